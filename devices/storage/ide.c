/*
 * The PIIX3 IDE function (82371SB, datasheet 290550, 2.4 and 2.7) at
 * 00:01.1: two channels in legacy mode (0x1F0-0x1F7 + 0x3F6 on IRQ 14,
 * 0x170-0x177 + 0x376 on IRQ 15), each with a master and a slave, and
 * bus-master IDE DMA (SFF-8038i) in BAR4. The drives speak ATA/ATAPI-6
 * (T13/1410D): this file holds the register protocol and the ATA command
 * set of hard disks; atapi.c holds the packet commands of CD-ROM drives.
 *
 * Commands complete before the register write that starts them returns:
 * BSY is never seen but during a software reset.
 */
#include "gh/ide.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#include "gh/bus.h"
#include "gh/device.h"
#include "gh/irq.h"
#include "gh/memory.h"
#include "gh/vm.h"
#include "ide-internal.h"

#define IDE_DEVFN	GH_PCI_DEVFN(1, 1)
#define IDETIM		0x40	/* primary 0x40-0x41, secondary 0x42-0x43 */
#define IDETIM_IDE	0x8000	/* IDE decode enable */
#define SIDETIM		0x44

/* Bus master IDE registers, per channel at +0 / +8 (SFF-8038i, 2.7.1) */
#define BM_CMD		0
#define BM_STATUS	2
#define BM_PRD		4
#define BM_CMD_START	0x01
#define BM_CMD_TOMEM	0x08	/* the bus master writes memory */
#define BM_ST_ACTIVE	0x01
#define BM_ST_ERROR	0x02
#define BM_ST_INTR	0x04
#define BM_ST_CAPABLE	0x60	/* drive 0/1 DMA capable, software's bits */

/* A PRD entry: dword address, word count (0: 64 KiB), EOT in bit 31 */
#define PRD_EOT		0x80000000u
#define PRD_SIZE	8

#define MAX_MULT	16	/* READ/WRITE MULTIPLE block, sectors */
#define SECTOR		512
#define LBA28_MAX	0x0fffffffULL

static const uint16_t cmd_port[2] = { 0x1f0, 0x170 };
static const uint16_t ctl_port[2] = { 0x3f6, 0x376 };
static const unsigned chan_gsi[2] = { 14, 15 };

/* --- interrupts ----------------------------------------------------------- */

static void update_irq(struct ide_channel *ch)
{
	int level = ch->irq_pending && !(ch->control & ATA_CTL_NIEN);

	gh_irq_set_source(gh_vm_irq(ch->ide->vm), ch->gsi, ch->irq_source,
			  level);
}

/* INTRQ: only the selected device drives it; the PIIX latches its rise
 * in the bus master status (SFF-8038i, "Interrupt"). */
void ide_raise_irq(struct ide_drive *d)
{
	struct ide_channel *ch = d->ch;

	if (d != ide_cur(ch))
		return;
	ch->irq_pending = true;
	if (!(ch->control & ATA_CTL_NIEN))
		ch->bm_status |= BM_ST_INTR;
	update_irq(ch);
}

static void lower_irq(struct ide_channel *ch)
{
	ch->irq_pending = false;
	update_irq(ch);
}

/* --- common helpers ------------------------------------------------------- */

/* ATA strings: two characters a word, the first in the high byte (ATA/
 * ATAPI-6, 3.2.9), padded with spaces. */
void ide_put_string(uint16_t *id, unsigned word, unsigned nwords,
		    const char *s)
{
	size_t len = strlen(s);

	for (unsigned i = 0; i < nwords; i++) {
		uint8_t hi = 2 * i < len ? s[2 * i] : ' ';
		uint8_t lo = 2 * i + 1 < len ? s[2 * i + 1] : ' ';

		id[word + i] = hi << 8 | lo;
	}
}

/* Word 255: signature A5h and a checksum making all 512 bytes sum to 0
 * (ATA/ATAPI-6, 8.15.61). */
void ide_id_checksum(uint16_t *id)
{
	uint8_t sum = 0xa5;

	for (unsigned i = 0; i < 255; i++)
		sum += (id[i] & 0xff) + (id[i] >> 8);
	id[255] = (uint16_t)(uint8_t)-sum << 8 | 0xa5;
}

/* The signature a reset leaves (ATA/ATAPI-6, 9.12): 01h/01h, then 00h/00h
 * for ATA or 14h/EBh for a packet device. */
void ide_set_signature(struct ide_drive *d)
{
	bool atapi = d->media == GH_DRIVE_CDROM;

	d->nsector = d->hob_nsector = 1;
	d->lbal = d->hob_lbal = 1;
	d->lbam = d->hob_lbam = atapi ? 0x14 : 0;
	d->lbah = d->hob_lbah = atapi ? 0xeb : 0;
	d->select = 0xa0;
}

static void end_transfer(struct ide_drive *d)
{
	d->end = END_NONE;
	d->dma = DMA_NONE;
	d->pos = d->limit = d->fill = 0;
}

static void cmd_done(struct ide_drive *d)
{
	end_transfer(d);
	d->status = ATA_DRDY | ATA_DSC;
	ide_raise_irq(d);
}

static void cmd_error(struct ide_drive *d, uint8_t error)
{
	end_transfer(d);
	d->status = ATA_DRDY | ATA_DSC | ATA_ERR;
	d->error = error;
	ide_raise_irq(d);
}

void ide_cmd_abort(struct ide_drive *d)
{
	cmd_error(d, ATA_ERR_ABRT);
}

/* A block of data-in for the host to read from the data port. */
static void start_pio_in(struct ide_drive *d, uint32_t len, enum ide_end end)
{
	d->pos = 0;
	d->limit = d->fill = len;
	d->pio_out = false;
	d->end = end;
	d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
	ide_raise_irq(d);
}

/* --- ATA commands --------------------------------------------------------- */

static void guess_geometry(struct ide_drive *d)
{
	uint64_t cyls = d->nsectors / (16 * 63);

	d->heads = 16;
	d->secs = 63;
	d->cyls = cyls > 16383 ? 16383 : cyls ? cyls : 1;
	d->cur_cyls = d->cyls;
	d->cur_heads = d->heads;
	d->cur_secs = d->secs;
}

static void ata_identify(struct ide_drive *d, uint16_t *id)
{
	uint64_t lba28 = MIN(d->nsectors, LBA28_MAX);
	uint64_t chs = (uint64_t)d->cur_cyls * d->cur_heads * d->cur_secs;
	uint8_t mode = d->xfer_mode;

	memset(id, 0, 512);
	id[0] = 0x0040;				/* fixed, not removable */
	id[1] = d->cyls;
	id[3] = d->heads;
	id[6] = d->secs;
	ide_put_string(id, 10, 10, d->serial);
	ide_put_string(id, 23, 4, "1.0");
	ide_put_string(id, 27, 20, "Guesthouse HARDDISK");
	id[47] = 0x8000 | MAX_MULT;
	/* IORDY, LBA, DMA */
	id[49] = 1 << 11 | 1 << 9 | 1 << 8;
	id[50] = 0x4000;
	id[51] = 0x0200;			/* PIO mode 2 timing */
	id[53] = 0x0007;			/* words 54-58, 64-70, 88 valid */
	id[54] = d->cur_cyls;
	id[55] = d->cur_heads;
	id[56] = d->cur_secs;
	chs = MIN(chs, d->nsectors);
	id[57] = chs;
	id[58] = chs >> 16;
	if (d->mult)
		id[59] = 0x100 | d->mult;
	id[60] = lba28;
	id[61] = lba28 >> 16;
	/* multiword DMA 0-2, the selected one in the high byte */
	id[63] = 0x07 | ((mode >> 3) == 4 ? 0x100 << (mode & 7) : 0);
	id[64] = 0x03;				/* PIO 3 and 4 */
	id[65] = id[66] = id[67] = id[68] = 120;
	id[80] = 0x7e;				/* ATA-1 to ATA-6 */
	/* NOP, write cache; LBA48, FLUSH CACHE (EXT) */
	id[82] = 1 << 14 | 1 << 5;
	id[83] = 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10;
	id[84] = 1 << 14;
	id[85] = 1 << 14 | (d->wcache ? 1 << 5 : 0);
	id[86] = 1 << 13 | 1 << 12 | 1 << 10;
	id[87] = 1 << 14;
	/* Ultra DMA 0-5, the selected one in the high byte */
	id[88] = 0x3f | ((mode >> 3) == 8 ? 0x100 << (mode & 7) : 0);
	id[93] = 1 << 14 | 1 << 13 | 1;		/* 80-wire cable, reset ok */
	for (unsigned i = 0; i < 4; i++)
		id[100 + i] = d->nsectors >> (16 * i);
	ide_id_checksum(id);
}

static void identify_reply(struct ide_drive *d, bool atapi)
{
	uint16_t id[256];

	if (atapi)
		atapi_identify(d, id);
	else
		ata_identify(d, id);
	for (unsigned i = 0; i < 256; i++) {
		d->buf[2 * i] = id[i];
		d->buf[2 * i + 1] = id[i] >> 8;
	}
	start_pio_in(d, SECTOR, END_IDENTIFY);
}

/*
 * The command's first sector and count from the task file (ATA/ATAPI-6,
 * 6.2): LBA48 from both halves of the FIFO, LBA28 with the device
 * register's low nibble, or CHS through the current translation. False,
 * with IDNF reported, for an address the disk does not have.
 */
static bool cmd_range(struct ide_drive *d, bool lba48)
{
	uint64_t lba;
	uint32_t count;

	if (lba48) {
		lba = (uint64_t)d->hob_lbah << 40 | (uint64_t)d->hob_lbam << 32 |
		      (uint64_t)d->hob_lbal << 24 | d->lbah << 16 |
		      d->lbam << 8 | d->lbal;
		count = d->hob_nsector << 8 | d->nsector;
		if (!count)
			count = 65536;
	} else {
		count = d->nsector ? d->nsector : 256;
		if (d->select & 0x40) {
			lba = (uint64_t)(d->select & 0xf) << 24 |
			      d->lbah << 16 | d->lbam << 8 | d->lbal;
		} else {
			unsigned cyl = d->lbah << 8 | d->lbam;
			unsigned head = d->select & 0xf, sect = d->lbal;

			if (!sect || sect > d->cur_secs || head >= d->cur_heads ||
			    cyl >= d->cur_cyls) {
				cmd_error(d, ATA_ERR_IDNF);
				return false;
			}
			lba = ((uint64_t)cyl * d->cur_heads + head) *
			      d->cur_secs + sect - 1;
		}
	}
	if (lba >= d->nsectors || count > d->nsectors - lba) {
		cmd_error(d, ATA_ERR_IDNF);
		return false;
	}
	d->lba = lba;
	d->remaining = count;
	return true;
}

static void pio_read_block(struct ide_drive *d)
{
	uint32_t n = MIN(d->remaining, d->block ? d->block : 1);

	if (gh_block_read(d->blk, d->lba, d->buf, n) < 0) {
		cmd_error(d, ATA_ERR_UNC);
		return;
	}
	d->block = n;
	start_pio_in(d, n * SECTOR, END_ATA_READ);
}

/* A block of data-out; the first one raises no interrupt (ATA/ATAPI-6,
 * 9.8, PIO data-out protocol). */
static void pio_write_block(struct ide_drive *d, bool irq)
{
	d->block = MIN(d->remaining, d->block);
	d->pos = 0;
	d->limit = d->fill = d->block * SECTOR;
	d->pio_out = true;
	d->end = END_ATA_WRITE;
	d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
	if (irq)
		ide_raise_irq(d);
}

static bool writable(struct ide_drive *d)
{
	if (!gh_block_read_only(d->blk))
		return true;
	ide_cmd_abort(d);
	return false;
}

static void cmd_pio(struct ide_drive *d, bool lba48, bool write, bool multiple)
{
	if (multiple && !d->mult) {
		ide_cmd_abort(d);
		return;
	}
	if ((write && !writable(d)) || !cmd_range(d, lba48))
		return;
	d->block = multiple ? d->mult : 1;
	if (write)
		pio_write_block(d, false);
	else
		pio_read_block(d);
}

static void cmd_dma(struct ide_drive *d, bool lba48, bool write)
{
	if ((write && !writable(d)) || !cmd_range(d, lba48))
		return;
	d->dma = write ? DMA_ATA_WRITE : DMA_ATA_READ;
	d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
	ide_dma_ready(d);
}

/* SET FEATURES (ATA/ATAPI-6, 8.46) */
static void cmd_set_features(struct ide_drive *d)
{
	uint8_t mode = d->nsector;

	switch (d->feature) {
	case 0x03:		/* set transfer mode (table 45) */
		switch (mode >> 3) {
		case 0:		/* PIO default */
			if (mode > 1)
				goto bad;
			break;
		case 1:		/* PIO flow control mode */
			if ((mode & 7) > 4)
				goto bad;
			break;
		case 4:		/* multiword DMA */
			if ((mode & 7) > 2)
				goto bad;
			break;
		case 8:		/* Ultra DMA */
			if ((mode & 7) > 5)
				goto bad;
			break;
		default:
			goto bad;
		}
		if (mode >> 3 == 4 || mode >> 3 == 8)
			d->xfer_mode = mode;
		break;
	case 0x02:
		d->wcache = true;
		break;
	case 0x82:
		d->wcache = false;
		break;
	case 0x55:		/* read look-ahead off/on */
	case 0xaa:
	case 0x66:		/* reverting to power-on defaults off/on */
	case 0xcc:
		break;
	default:
		goto bad;
	}
	cmd_done(d);
	return;
bad:
	ide_cmd_abort(d);
}

static void cmd_flush(struct ide_drive *d)
{
	if (d->blk && gh_block_flush(d->blk) < 0)
		ide_cmd_abort(d);
	else
		cmd_done(d);
}

static void exec_diagnostic(struct ide_channel *ch)
{
	for (unsigned u = 0; u < 2; u++) {
		struct ide_drive *d = &ch->drive[u];

		if (!d->media)
			continue;
		end_transfer(d);
		ide_set_signature(d);
		d->error = 0x01;	/* no error detected */
		d->status = d->media == GH_DRIVE_CDROM ? 0 : ATA_DRDY | ATA_DSC;
	}
	ch->cur = 0;
	/* the master answers for an absent slave (9.3) */
	if (ch->drive[0].media)
		ide_raise_irq(&ch->drive[0]);
}

static void ata_command(struct ide_drive *d, uint8_t cmd)
{
	switch (cmd) {
	case 0x20: case 0x21:		/* READ SECTORS (with retries) */
		cmd_pio(d, false, false, false);
		break;
	case 0x24:			/* READ SECTORS EXT */
		cmd_pio(d, true, false, false);
		break;
	case 0xc4:			/* READ MULTIPLE */
		cmd_pio(d, false, false, true);
		break;
	case 0x29:			/* READ MULTIPLE EXT */
		cmd_pio(d, true, false, true);
		break;
	case 0x30: case 0x31:		/* WRITE SECTORS */
		cmd_pio(d, false, true, false);
		break;
	case 0x34:			/* WRITE SECTORS EXT */
		cmd_pio(d, true, true, false);
		break;
	case 0xc5:			/* WRITE MULTIPLE */
		cmd_pio(d, false, true, true);
		break;
	case 0x39:			/* WRITE MULTIPLE EXT */
		cmd_pio(d, true, true, true);
		break;
	case 0xc8: case 0xc9:		/* READ DMA */
		cmd_dma(d, false, false);
		break;
	case 0x25:			/* READ DMA EXT */
		cmd_dma(d, true, false);
		break;
	case 0xca: case 0xcb:		/* WRITE DMA */
		cmd_dma(d, false, true);
		break;
	case 0x35:			/* WRITE DMA EXT */
		cmd_dma(d, true, true);
		break;
	case 0x40: case 0x41:		/* READ VERIFY SECTORS */
		if (cmd_range(d, false))
			cmd_done(d);
		break;
	case 0x42:			/* READ VERIFY SECTORS EXT */
		if (cmd_range(d, true))
			cmd_done(d);
		break;
	case 0xe7:			/* FLUSH CACHE */
	case 0xea:			/* FLUSH CACHE EXT */
		cmd_flush(d);
		break;
	case 0xec:			/* IDENTIFY DEVICE */
		identify_reply(d, false);
		break;
	case 0xef:
		cmd_set_features(d);
		break;
	case 0xc6:			/* SET MULTIPLE MODE */
		if (d->nsector > MAX_MULT ||
		    (d->nsector & (d->nsector - 1))) {
			ide_cmd_abort(d);
		} else {
			d->mult = d->nsector;
			cmd_done(d);
		}
		break;
	case 0x91:			/* INITIALIZE DEVICE PARAMETERS */
		if (!d->nsector) {
			ide_cmd_abort(d);
			break;
		}
		d->cur_heads = (d->select & 0xf) + 1;
		d->cur_secs = d->nsector;
		d->cur_cyls = MIN(d->nsectors / (d->cur_heads * d->cur_secs),
				  65535);
		cmd_done(d);
		break;
	case 0x10 ... 0x1f:		/* RECALIBRATE (obsolete) */
	case 0x70:			/* SEEK */
	case 0xe0:			/* STANDBY IMMEDIATE */
	case 0xe1:			/* IDLE IMMEDIATE */
	case 0xe2:			/* STANDBY */
	case 0xe3:			/* IDLE */
		cmd_done(d);
		break;
	case 0xe5:			/* CHECK POWER MODE: active or idle */
		d->nsector = 0xff;
		cmd_done(d);
		break;
	case 0x90:
		exec_diagnostic(d->ch);
		break;
	default:
		gh_log_guest(&d->ch->ide->rl, "ide%u.%u: command 0x%02x "
			     "aborted", d->ch->index, d->unit, cmd);
		ide_cmd_abort(d);
	}
}

/* What a packet device does with ATA commands (ATA/ATAPI-6, 6.3). */
static void atapi_ata_command(struct ide_drive *d, uint8_t cmd)
{
	switch (cmd) {
	case 0xa0:			/* PACKET */
		atapi_packet_cmd(d);
		break;
	case 0xa1:			/* IDENTIFY PACKET DEVICE */
		identify_reply(d, true);
		break;
	case 0x08:			/* DEVICE RESET: no interrupt */
		end_transfer(d);
		ide_set_signature(d);
		d->error = 0x01;
		d->status = 0;
		break;
	case 0x20: case 0x21:		/* READ SECTORS */
	case 0xec:			/* IDENTIFY DEVICE */
		/* aborted with the signature, which tells the host what
		 * answered (8.15.2) */
		ide_set_signature(d);
		ide_cmd_abort(d);
		break;
	case 0xef:
		cmd_set_features(d);
		break;
	case 0x90:
		exec_diagnostic(d->ch);
		break;
	case 0xe0: case 0xe1: case 0xe2: case 0xe3:
		cmd_done(d);
		break;
	case 0xe5:
		d->nsector = 0xff;
		cmd_done(d);
		break;
	default:
		gh_log_guest(&d->ch->ide->rl, "ide%u.%u: ATAPI command 0x%02x "
			     "aborted", d->ch->index, d->unit, cmd);
		ide_cmd_abort(d);
	}
}

static void command(struct ide_channel *ch, uint8_t cmd)
{
	struct ide_drive *d = ide_cur(ch);

	/* an absent slave ignores commands; nothing runs during SRST */
	if (!d->media || (ch->control & ATA_CTL_SRST))
		return;
	if ((d->status & ATA_BSY) && !(cmd == 0x08 && d->media == GH_DRIVE_CDROM))
		return;
	lower_irq(ch);
	end_transfer(d);
	if (d->media == GH_DRIVE_CDROM)
		atapi_ata_command(d, cmd);
	else
		ata_command(d, cmd);
}

/* --- data transfer -------------------------------------------------------- */

/* The host moved the last byte of the DRQ block. */
static void block_done(struct ide_drive *d)
{
	switch (d->end) {
	case END_ATA_READ:
		d->lba += d->block;
		d->remaining -= d->block;
		if (d->remaining) {
			pio_read_block(d);
		} else {
			/* no interrupt after the last block of data-in */
			end_transfer(d);
			d->status = ATA_DRDY | ATA_DSC;
		}
		break;
	case END_ATA_WRITE:
		if (gh_block_write(d->blk, d->lba, d->buf, d->block) < 0) {
			ide_cmd_abort(d);
			break;
		}
		d->lba += d->block;
		d->remaining -= d->block;
		if (d->remaining)
			pio_write_block(d, true);
		else
			cmd_done(d);
		break;
	case END_IDENTIFY:
		end_transfer(d);
		d->status = ATA_DRDY | ATA_DSC;
		break;
	case END_PACKET:
		atapi_run_packet(d);
		break;
	case END_ATAPI_READ:
		atapi_pio_next(d);
		break;
	case END_NONE:
		break;
	}
}

static uint64_t data_read(struct ide_channel *ch, unsigned size)
{
	struct ide_drive *d = ide_cur(ch);
	uint64_t v = 0;

	if (!d->media || d->end == END_NONE || d->pio_out)
		return size == 4 ? 0xffffffffu : 0xffff;
	for (unsigned i = 0; i < size; i++) {
		/* a transfer that ends mid-access reads ones past its end */
		if (d->end == END_NONE || d->pio_out || d->pos >= d->limit) {
			v |= (uint64_t)0xff << (8 * i);
			continue;
		}
		v |= (uint64_t)d->buf[d->pos++] << (8 * i);
		if (d->pos == d->limit)
			block_done(d);
	}
	return v;
}

static void data_write(struct ide_channel *ch, uint64_t v, unsigned size)
{
	struct ide_drive *d = ide_cur(ch);

	for (unsigned i = 0; i < size; i++) {
		if (!d->media || d->end == END_NONE || !d->pio_out ||
		    d->pos >= d->limit)
			return;
		d->buf[d->pos++] = v >> (8 * i);
		if (d->pos == d->limit)
			block_done(d);
	}
}

/* --- registers ------------------------------------------------------------ */

static uint8_t reg_read(struct ide_channel *ch, unsigned reg)
{
	struct ide_drive *d = ide_cur(ch);
	bool hob = ch->control & ATA_CTL_HOB;

	/*
	 * No drive at all, or an absent slave: zeros, as QEMU gives. A real
	 * empty channel floats high, but 0xFF has BSY set, and firmware that
	 * waits for BSY to clear (OVMF's ATA driver) would wait out its
	 * timeouts on every empty channel.
	 */
	if (!d->media)
		return 0;
	switch (reg) {
	case 1:
		return d->error;
	case 2:
		return hob ? d->hob_nsector : d->nsector;
	case 3:
		return hob ? d->hob_lbal : d->lbal;
	case 4:
		return hob ? d->hob_lbam : d->lbam;
	case 5:
		return hob ? d->hob_lbah : d->lbah;
	case 6:
		return d->select;
	case 7:
		/* reading the status acknowledges the interrupt */
		lower_irq(ch);
		return d->status;
	}
	return 0xff;
}

/* Both drives latch every task file write; the old value moves to the
 * HOB half, and the write clears HOB in the device control (6.2). */
static void reg_write(struct ide_channel *ch, unsigned reg, uint8_t v)
{
	if (reg == 7) {
		command(ch, v);
		return;
	}
	ch->control &= ~ATA_CTL_HOB;
	for (unsigned u = 0; u < 2; u++) {
		struct ide_drive *d = &ch->drive[u];

		switch (reg) {
		case 1:
			d->hob_feature = d->feature;
			d->feature = v;
			break;
		case 2:
			d->hob_nsector = d->nsector;
			d->nsector = v;
			break;
		case 3:
			d->hob_lbal = d->lbal;
			d->lbal = v;
			break;
		case 4:
			d->hob_lbam = d->lbam;
			d->lbam = v;
			break;
		case 5:
			d->hob_lbah = d->lbah;
			d->lbah = v;
			break;
		case 6:
			d->select = v | 0xa0;
			break;
		}
	}
	if (reg == 6)
		ch->cur = (v >> 4) & 1;
}

static struct ide_channel *chan_of(void *opaque)
{
	return opaque;
}

static uint64_t cmd_read(void *opaque, uint64_t off, unsigned size)
{
	struct ide_channel *ch = chan_of(opaque);
	uint64_t v = 0;

	if (off == 0)
		return data_read(ch, size);
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)reg_read(ch, off + i) << (8 * i);
	return v;
}

static void cmd_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	struct ide_channel *ch = chan_of(opaque);

	if (off == 0) {
		data_write(ch, val, size);
		return;
	}
	for (unsigned i = 0; i < size; i++)
		reg_write(ch, off + i, val >> (8 * i));
}

static const struct gh_io_ops cmd_ops = {
	.read = cmd_read,
	.write = cmd_write,
};

static void reset_drive(struct ide_drive *d)
{
	end_transfer(d);
	ide_set_signature(d);
	d->feature = d->hob_feature = 0;
	d->error = 0x01;
	d->status = d->media == GH_DRIVE_CDROM ? 0 : ATA_DRDY | ATA_DSC;
}

/*
 * Device control (7.9): nIEN masks INTRQ; SRST holds both drives in reset
 * (BSY) while set, and its clearing leaves the signatures.
 */
static void control_write(struct ide_channel *ch, uint8_t v)
{
	uint8_t old = ch->control;

	ch->control = v & (ATA_CTL_NIEN | ATA_CTL_SRST | ATA_CTL_HOB);
	if ((v & ATA_CTL_SRST) && !(old & ATA_CTL_SRST)) {
		for (unsigned u = 0; u < 2; u++) {
			struct ide_drive *d = &ch->drive[u];

			if (d->media) {
				end_transfer(d);
				d->status = ATA_BSY;
			}
		}
		ch->irq_pending = false;
	} else if (!(v & ATA_CTL_SRST) && (old & ATA_CTL_SRST)) {
		for (unsigned u = 0; u < 2; u++)
			if (ch->drive[u].media)
				reset_drive(&ch->drive[u]);
		ch->cur = 0;
	}
	update_irq(ch);
}

static uint64_t ctl_read(void *opaque, uint64_t off, unsigned size)
{
	struct ide_channel *ch = chan_of(opaque);
	struct ide_drive *d = ide_cur(ch);

	/* alternate status: the status without acknowledging */
	return d->media ? d->status : 0;
}

static void ctl_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	control_write(chan_of(opaque), val);
}

static const struct gh_io_ops ctl_ops = {
	.read = ctl_read,
	.write = ctl_write,
};

/* --- bus master DMA ------------------------------------------------------- */

enum dma_result { DMA_OK, DMA_BUS_ERROR, DMA_DEV_ERROR };

/* The next chunk of disk data-in into buf; -1 when the disk fails. */
static int ata_dma_fill(struct ide_drive *d)
{
	uint32_t n = MIN(d->remaining, IDE_BUF_SIZE / SECTOR);

	if (gh_block_read(d->blk, d->lba, d->buf, n) < 0)
		return -1;
	d->lba += n;
	d->remaining -= n;
	d->pos = 0;
	d->fill = n * SECTOR;
	return 0;
}

static void dma_finish(struct ide_drive *d, enum dma_result r)
{
	if (d->dma == DMA_ATAPI) {
		atapi_dma_done(d, r == DMA_OK, r == DMA_BUS_ERROR);
		return;
	}
	if (r == DMA_OK)
		cmd_done(d);
	else
		cmd_error(d, r == DMA_BUS_ERROR ? ATA_ERR_ABRT :
			  d->dma == DMA_ATA_READ ? ATA_ERR_UNC : ATA_ERR_ABRT);
}

/*
 * Runs the pending transfer of the selected drive through the PRD table
 * (SFF-8038i, 1.2 and 2.7): entries of a dword-aligned physical address
 * and a byte count (0: 64 KiB), the last with EOT; the table may not cross
 * a 64 KiB boundary. Each entry's buffer must lie in guest RAM. A table
 * that ends before the transfer does, an entry outside RAM or a table
 * past its bound is a bus error: the engine stops with the error bit set
 * and the drive reports the command aborted. A table longer than the
 * transfer leaves the engine active, as the hardware does.
 */
static void dma_run(struct ide_channel *ch)
{
	struct ide_drive *d = ide_cur(ch);
	struct gh_memory *mem = gh_vm_memory(ch->ide->vm);
	bool to_mem = d->dma != DMA_ATA_WRITE;
	uint32_t prd = ch->bm_prd, left_in_prd = 0, addr = 0;
	bool eot = false;
	enum dma_result r = DMA_OK;
	uint64_t total;

	if (d->dma == DMA_NONE)
		return;
	if (d->dma == DMA_ATAPI) {
		total = (d->fill - d->pos) + d->reply_left;
	} else {
		total = (uint64_t)d->remaining * SECTOR;
		d->pos = d->fill = 0;
	}
	while (total) {
		uint32_t n;

		if (d->pos == d->fill) {
			if (d->dma == DMA_ATA_READ && ata_dma_fill(d) < 0) {
				r = DMA_DEV_ERROR;
				break;
			}
			if (d->dma == DMA_ATAPI && atapi_dma_fill(d) < 0) {
				r = DMA_DEV_ERROR;
				break;
			}
			if (d->dma == DMA_ATA_WRITE) {
				d->pos = 0;
				d->fill = MIN(total, IDE_BUF_SIZE);
			}
		}
		if (!left_in_prd) {
			uint8_t e[PRD_SIZE];
			uint32_t cnt;

			if (eot || ((prd ^ ch->bm_prd) & ~0xffffu) ||
			    gh_mem_read(mem, prd, e, sizeof(e)) < 0) {
				r = DMA_BUS_ERROR;
				break;
			}
			addr = (e[0] | e[1] << 8 | e[2] << 16 |
				(uint32_t)e[3] << 24) & ~1u;
			cnt = (e[4] | e[5] << 8) & ~1u;
			left_in_prd = cnt ? cnt : 0x10000;
			eot = e[7] & 0x80;
			prd += PRD_SIZE;
		}
		n = MIN(left_in_prd, d->fill - d->pos);
		if ((to_mem ? gh_mem_write(mem, addr, d->buf + d->pos, n) :
			      gh_mem_read(mem, addr, d->buf + d->pos, n)) < 0) {
			r = DMA_BUS_ERROR;
			break;
		}
		addr += n;
		left_in_prd -= n;
		d->pos += n;
		total -= n;
		if (!to_mem && d->pos == d->fill) {
			uint32_t sectors = d->fill / SECTOR;

			if (gh_block_write(d->blk, d->lba, d->buf, sectors) < 0) {
				r = DMA_DEV_ERROR;
				break;
			}
			d->lba += sectors;
			d->remaining -= sectors;
		}
	}
	if (r == DMA_BUS_ERROR)
		ch->bm_status = (ch->bm_status & ~BM_ST_ACTIVE) | BM_ST_ERROR;
	else if (r == DMA_DEV_ERROR || (eot && !left_in_prd))
		ch->bm_status &= ~BM_ST_ACTIVE;
	dma_finish(d, r);
}

void ide_dma_ready(struct ide_drive *d)
{
	struct ide_channel *ch = d->ch;

	if ((ch->bm_cmd & BM_CMD_START) && (ch->bm_status & BM_ST_ACTIVE) &&
	    d == ide_cur(ch))
		dma_run(ch);
}

static uint8_t bm_read_byte(struct gh_ide *s, unsigned off)
{
	struct ide_channel *ch = &s->ch[off >= 8];

	switch (off & 7) {
	case BM_CMD:
		return ch->bm_cmd;
	case BM_STATUS:
		return ch->bm_status;
	case BM_PRD ... BM_PRD + 3:
		return ch->bm_prd >> (8 * ((off & 7) - BM_PRD));
	}
	return 0;
}

static void bm_write_byte(struct gh_ide *s, unsigned off, uint8_t v)
{
	struct ide_channel *ch = &s->ch[off >= 8];
	unsigned shift;

	switch (off & 7) {
	case BM_CMD:
		if (!(v & BM_CMD_START)) {
			/* stopping the engine abandons the transfer */
			ch->bm_status &= ~BM_ST_ACTIVE;
		} else if (!(ch->bm_cmd & BM_CMD_START)) {
			ch->bm_cmd = v & (BM_CMD_START | BM_CMD_TOMEM);
			ch->bm_status |= BM_ST_ACTIVE;
			ide_dma_ready(ide_cur(ch));
			return;
		}
		ch->bm_cmd = v & (BM_CMD_START | BM_CMD_TOMEM);
		break;
	case BM_STATUS:
		ch->bm_status = (ch->bm_status & ~BM_ST_CAPABLE) |
				(v & BM_ST_CAPABLE);
		ch->bm_status &= ~(v & (BM_ST_ERROR | BM_ST_INTR));
		break;
	case BM_PRD ... BM_PRD + 3:
		shift = 8 * ((off & 7) - BM_PRD);
		ch->bm_prd = (ch->bm_prd & ~(0xffu << shift)) |
			     (uint32_t)v << shift;
		ch->bm_prd &= ~3u;
		break;
	}
}

static uint64_t bm_read(void *opaque, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)bm_read_byte(opaque, off + i) << (8 * i);
	return v;
}

static void bm_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		bm_write_byte(opaque, off + i, val >> (8 * i));
}

static const struct gh_io_ops bm_ops = {
	.read = bm_read,
	.write = bm_write,
};

/* --- media ---------------------------------------------------------------- */

static struct ide_drive *slot_drive(struct gh_ide *s, unsigned slot)
{
	if (slot >= GH_BOARD_IDE_SLOTS)
		return NULL;
	return &s->ch[slot / 2].drive[slot % 2];
}

int gh_ide_change_media(struct gh_ide *s, unsigned slot, const char *path,
			bool force, struct gh_error *err)
{
	struct ide_drive *d = slot_drive(s, slot);
	struct gh_block *blk = NULL;
	int ret;

	if (!d || d->media != GH_DRIVE_CDROM)
		return gh_error_set(err, -ENODEV, "IDE slot %u is not a CD-ROM "
				    "drive", slot);
	/* a change takes the old disc out first, as an eject does */
	if (d->blk && d->locked && !force) {
		d->media_event = MEDIA_EV_EJECT_REQUEST;
		return gh_error_set(err, -EBUSY, "the guest has locked the "
				    "CD-ROM drive's tray (eject -f forces it)");
	}
	if (!path) {
		gh_block_close(d->blk);
		d->blk = NULL;
		d->media_event = MEDIA_EV_REMOVAL;
		return 0;
	}
	ret = gh_block_open(path, GH_BLOCK_CD, true, &blk, err);
	if (ret < 0)
		return ret;
	gh_block_close(d->blk);
	d->blk = blk;
	d->tray_open = false;
	/* MMC: the next command learns of it (28h: not ready to ready
	 * change, medium may have changed) */
	d->unit_attention = true;
	d->media_event = MEDIA_EV_NEW;
	return 0;
}

bool gh_ide_media_present(struct gh_ide *s, unsigned slot)
{
	struct ide_drive *d = slot_drive(s, slot);

	return d && d->blk && !d->tray_open;
}

bool gh_ide_tray_locked(struct gh_ide *s, unsigned slot)
{
	struct ide_drive *d = slot_drive(s, slot);

	return d && d->media == GH_DRIVE_CDROM && d->locked;
}

void gh_ide_drive_info(struct gh_ide *s, unsigned slot,
		       struct gh_board_drive_info *info)
{
	struct ide_drive *d = slot_drive(s, slot);

	*info = (struct gh_board_drive_info){ .media = GH_DRIVE_NONE };
	if (!d || d->media == GH_DRIVE_NONE)
		return;
	info->media = d->media;
	info->locked = d->media == GH_DRIVE_CDROM && d->locked;
	info->tray_open = d->media == GH_DRIVE_CDROM && d->tray_open;
	if (d->blk) {
		info->path = g_strdup(gh_block_path(d->blk));
		info->read_only = gh_block_read_only(d->blk);
	}
}

/* --- the device ----------------------------------------------------------- */

static int open_drive(struct gh_ide *s, unsigned slot,
		      const struct gh_drive_config *dc, struct gh_error *err)
{
	struct ide_drive *d = slot_drive(s, slot);
	int ret;

	d->media = dc->media;
	if (dc->media == GH_DRIVE_NONE)
		return 0;
	g_snprintf(d->serial, sizeof(d->serial), "GH%016u", slot + 1);
	d->buf = g_malloc0(IDE_BUF_SIZE);
	if (dc->media == GH_DRIVE_CDROM) {
		if (!dc->path)
			return 0;
		return gh_block_open(dc->path, GH_BLOCK_CD, true, &d->blk, err);
	}
	if (!dc->path)
		return gh_error_set(err, -EINVAL, "IDE slot %u: a disk needs "
				    "an image", slot);
	ret = gh_block_open(dc->path, GH_BLOCK_DISK, dc->read_only, &d->blk,
			    err);
	if (ret < 0)
		return ret;
	d->nsectors = gh_block_sectors(d->blk);
	guess_geometry(d);
	return 0;
}

static void ide_unrealize(void *dev)
{
	struct gh_ide *s = dev;

	gh_pci_unregister(&s->pci);
	for (unsigned c = 0; c < 2; c++) {
		struct ide_channel *ch = &s->ch[c];

		if (s->mapped[c][0])
			gh_bus_unmap(gh_vm_pio(s->vm), cmd_port[c]);
		if (s->mapped[c][1])
			gh_bus_unmap(gh_vm_pio(s->vm), ctl_port[c]);
		if (ch->irq_source > 0)
			gh_irq_source_free(gh_vm_irq(s->vm), ch->gsi,
					   ch->irq_source);
		for (unsigned u = 0; u < 2; u++) {
			gh_block_close(ch->drive[u].blk);
			g_free(ch->drive[u].buf);
		}
	}
}

static int ide_realize(void *dev, struct gh_vm *vm,
		       const struct gh_device_cfg *cfg, struct gh_error *err)
{
	struct gh_ide *s = dev;
	struct gh_pci_func *f = &s->pci;
	int ret;

	s->vm = vm;
	for (unsigned c = 0; c < 2; c++) {
		struct ide_channel *ch = &s->ch[c];

		ch->ide = s;
		ch->index = c;
		ch->gsi = chan_gsi[c];
		for (unsigned u = 0; u < 2; u++) {
			ch->drive[u].ch = ch;
			ch->drive[u].unit = u;
		}
	}
	for (unsigned slot = 0; cfg->board && slot < GH_BOARD_IDE_SLOTS; slot++) {
		ret = open_drive(s, slot, &cfg->board->ide[slot], err);
		if (ret < 0)
			goto err;
	}
	for (unsigned c = 0; c < 2; c++) {
		struct ide_channel *ch = &s->ch[c];

		ret = gh_irq_source_new(gh_vm_irq(vm), ch->gsi);
		if (ret < 0) {
			gh_error_set(err, ret, "ide: cannot use IRQ %u", ch->gsi);
			goto err;
		}
		ch->irq_source = ret;
		ret = gh_bus_map(gh_vm_pio(vm), cmd_port[c], 8, &cmd_ops, ch,
				 c ? "ide1" : "ide0");
		if (ret < 0) {
			gh_error_set(err, ret, "ide: ports 0x%x-0x%x are taken",
				     cmd_port[c], cmd_port[c] + 7);
			goto err;
		}
		s->mapped[c][0] = true;
		ret = gh_bus_map(gh_vm_pio(vm), ctl_port[c], 1, &ctl_ops, ch,
				 c ? "ide1-ctl" : "ide0-ctl");
		if (ret < 0) {
			gh_error_set(err, ret, "ide: port 0x%x is taken",
				     ctl_port[c]);
			goto err;
		}
		s->mapped[c][1] = true;
	}
	if (!cfg->pci) {
		ret = gh_error_set(err, -ENODEV, "ide: no PCI bus");
		goto err;
	}
	/* mass storage, IDE, prog-if 80h: legacy mode on both channels,
	 * which is fixed (bits 0 and 2 clear), and bus mastering */
	gh_pci_func_init(f, 0x8086, 0x7010, 0x010180, 0x00, NULL, s);
	f->config[GH_PCI_STATUS + 1] = 0x02;	/* DEVSEL medium */
	f->wmask[GH_PCI_INTERRUPT_LINE] = 0;
	/*
	 * IDETIM: decode enable on both channels, as SeaBIOS sets it (the
	 * PIIX3 powers on with it clear); direct boot has no BIOS to do it,
	 * and Linux's ata_piix leaves a channel whose bit is clear alone.
	 */
	gh_pci_set_wmask(f, IDETIM, 4, 0xffffffff);
	gh_pci_set_wmask(f, SIDETIM, 1, 0xff);
	f->config[IDETIM + 1] = IDETIM_IDE >> 8;
	f->config[IDETIM + 3] = IDETIM_IDE >> 8;
	ret = gh_pci_set_bar(f, 4, GH_PCI_BAR_IO, false, 16, &bm_ops, s,
			     "piix-ide-bm");
	if (ret < 0) {
		gh_error_set(err, ret, "ide: cannot set up BAR4");
		goto err;
	}
	ret = gh_pci_register(cfg->pci, f, IDE_DEVFN);
	if (ret < 0) {
		gh_error_set(err, ret, "ide: 00:01.1 is taken");
		goto err;
	}
	return 0;

err:
	ide_unrealize(s);
	return ret;
}

static void ide_reset(void *dev)
{
	struct gh_ide *s = dev;

	gh_pci_func_reset(&s->pci);
	for (unsigned c = 0; c < 2; c++) {
		struct ide_channel *ch = &s->ch[c];

		ch->control = 0;
		ch->cur = 0;
		ch->bm_cmd = ch->bm_status = 0;
		ch->bm_prd = 0;
		ch->irq_pending = false;
		for (unsigned u = 0; u < 2; u++) {
			struct ide_drive *d = &ch->drive[u];

			if (!d->media)
				continue;
			reset_drive(d);
			if (d->media == GH_DRIVE_DISK) {
				d->mult = 0;
				d->wcache = true;
				d->xfer_mode = 0x22;	/* MWDMA 2 */
				d->cur_cyls = d->cyls;
				d->cur_heads = d->heads;
				d->cur_secs = d->secs;
			} else {
				atapi_reset(d);
			}
		}
		update_irq(ch);
	}
}

const struct gh_device_type gh_ide_type = {
	.name = "ide",
	.level = 1,
	.size = sizeof(struct gh_ide),
	.realize = ide_realize,
	.reset = ide_reset,
	.unrealize = ide_unrealize,
};
