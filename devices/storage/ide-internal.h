/*
 * The PIIX3 IDE controller's state, shared by the ATA side (ide.c) and the
 * ATAPI packet commands (atapi.c).
 */
#ifndef GH_IDE_INTERNAL_H
#define GH_IDE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "gh/block.h"
#include "gh/board.h"
#include "gh/log.h"
#include "gh/pci.h"

struct gh_vm;

/* Status register (ATA/ATAPI-6, 7.15) */
#define ATA_BSY		0x80
#define ATA_DRDY	0x40
#define ATA_DF		0x20
#define ATA_DSC		0x10
#define ATA_DRQ		0x08
#define ATA_ERR		0x01

/* Error register */
#define ATA_ERR_UNC	0x40
#define ATA_ERR_IDNF	0x10
#define ATA_ERR_ABRT	0x04

/* Device control register */
#define ATA_CTL_NIEN	0x02
#define ATA_CTL_SRST	0x04
#define ATA_CTL_HOB	0x80

/* ATAPI interrupt reason in the sector count register (ATA/ATAPI-6, 9.10) */
#define ATAPI_IR_COD	0x01
#define ATAPI_IR_IO	0x02

/* The transfer buffer: a PIO block, an ATAPI reply, a DMA chunk. */
#define IDE_BUF_SIZE	(128 * 1024)

/* What happens when the host has moved the buffer's bytes. */
enum ide_end {
	END_NONE,
	END_ATA_READ,		/* PIO data-in block done: next block */
	END_ATA_WRITE,		/* PIO data-out block in: write it */
	END_IDENTIFY,		/* one block of data-in, then done */
	END_PACKET,		/* the 12-byte command packet is in */
	END_ATAPI_READ,		/* an ATAPI DRQ chunk done: the next one */
};

/* What a pending DMA moves. */
enum ide_dma {
	DMA_NONE,
	DMA_ATA_READ,		/* disk to memory */
	DMA_ATA_WRITE,		/* memory to disk */
	DMA_ATAPI,		/* CD data (or a reply) to memory */
};

/* Media events of GET EVENT STATUS NOTIFICATION (MMC-5, table 154) */
enum {
	MEDIA_EV_NONE = 0,
	MEDIA_EV_EJECT_REQUEST = 1,
	MEDIA_EV_NEW = 2,
	MEDIA_EV_REMOVAL = 3,
};

struct ide_channel;

struct ide_drive {
	struct ide_channel *ch;
	unsigned unit;			/* 0 master, 1 slave */
	enum gh_drive_media media;	/* NONE: no drive */
	struct gh_block *blk;		/* NULL: a CD-ROM drive without disc */
	char serial[21];

	/* the task file as this drive latched it (both drives of a channel
	 * latch every write), and the HOB half (LBA48's previous writes) */
	uint8_t feature, nsector, lbal, lbam, lbah;
	uint8_t hob_feature, hob_nsector, hob_lbal, hob_lbam, hob_lbah;
	uint8_t select;
	uint8_t status, error;

	/* ATA: sizes and settings */
	uint64_t nsectors;
	uint16_t cyls, heads, secs;		/* default CHS translation */
	uint16_t cur_cyls, cur_heads, cur_secs;	/* INITIALIZE DEVICE PARAMETERS */
	unsigned mult;				/* READ/WRITE MULTIPLE: 0 off */
	uint8_t xfer_mode;			/* SET FEATURES 03h value */
	bool wcache;

	/* the command in progress */
	uint64_t lba;			/* next sector to move */
	uint32_t remaining;		/* sectors still to move */
	uint32_t block;			/* sectors in the current PIO block */
	enum ide_end end;
	uint8_t *buf;
	uint32_t pos, limit, fill;	/* next byte; end of the DRQ block;
					 * end of valid data in buf */
	bool pio_out;			/* the host writes the data port */
	enum ide_dma dma;

	/* ATAPI */
	uint8_t cdb[12];
	uint8_t sense_key, asc, ascq;
	bool tray_open, locked, unit_attention;
	uint8_t media_event;
	uint32_t byte_limit;		/* the PACKET command's byte count limit */
	bool packet_dma;		/* the PACKET command's DMA bit */
	uint64_t reply_left;		/* bytes of data-in not yet in buf */
	uint64_t cd_lba;		/* the read's next 2048-byte sector */
};

struct ide_channel {
	struct gh_ide *ide;
	unsigned index;			/* 0 primary, 1 secondary */
	struct ide_drive drive[2];
	unsigned cur;			/* the DEV bit: selected drive */
	uint8_t control;		/* device control register */
	bool irq_pending;		/* INTRQ, before nIEN */
	int irq_source;
	unsigned gsi;

	/* bus master IDE (SFF-8038i, PIIX3 datasheet 2.7) */
	uint8_t bm_cmd, bm_status;
	uint32_t bm_prd;
};

struct gh_ide {
	struct gh_pci_func pci;
	struct gh_vm *vm;
	struct ide_channel ch[2];
	bool mapped[2][2];		/* command block, control block */
	struct gh_ratelimit rl;
};

static inline struct ide_drive *ide_cur(struct ide_channel *ch)
{
	return &ch->drive[ch->cur];
}

/* ide.c, for atapi.c */
void ide_raise_irq(struct ide_drive *d);
void ide_set_signature(struct ide_drive *d);
void ide_put_string(uint16_t *id, unsigned word, unsigned nwords,
		    const char *s);
void ide_id_checksum(uint16_t *id);
void ide_cmd_abort(struct ide_drive *d);
/* Starts the DMA of a command that has set d->dma, if the engine runs. */
void ide_dma_ready(struct ide_drive *d);

/* atapi.c */
void atapi_identify(struct ide_drive *d, uint16_t *id);
/* PACKET (A0h): wait for the command packet. */
void atapi_packet_cmd(struct ide_drive *d);
/* The packet arrived: run it. */
void atapi_run_packet(struct ide_drive *d);
/* The host moved a DRQ chunk of data-in: the next chunk, or the end. */
void atapi_pio_next(struct ide_drive *d);
/* DMA of data-in: the next part of the reply into buf (0), or done (1),
 * or failed (-1: sense set). */
int atapi_dma_fill(struct ide_drive *d);
/* The DMA ended: good (status and interrupt), or failed (on the bus:
 * ABORTED COMMAND; else the sense atapi_dma_fill set). */
void atapi_dma_done(struct ide_drive *d, bool ok, bool bus_error);
/* Power-on and reset state of the ATAPI side. */
void atapi_reset(struct ide_drive *d);

#endif
