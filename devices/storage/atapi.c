/*
 * The packet commands of the IDE CD-ROM drive: the ATAPI transport
 * (ATA/ATAPI-6, 9.10 PACKET and 9.11 its DMA form) carrying the MMC-5
 * (T10/1675D) and SPC-3 commands that SeaBIOS's El Torito boot and Linux's
 * sr driver use, with sense data (SPC-3, 4.5) for what fails.
 */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "gh/log.h"
#include "ide-internal.h"

#define CD_SECTOR	GH_BLOCK_CD_SECTOR
/* a disc with more sectors than a CD's 80 minutes is a DVD */
#define CD_MAX_SECTORS	(80 * 60 * 75)

/* Sense keys (SPC-3, table 27) and the additional sense codes used */
#define SENSE_NONE		0x0
#define SENSE_NOT_READY		0x2
#define SENSE_MEDIUM_ERROR	0x3
#define SENSE_ILLEGAL_REQUEST	0x5
#define SENSE_UNIT_ATTENTION	0x6
#define SENSE_ABORTED_COMMAND	0xb

#define ASC_INVALID_OPCODE	0x20
#define ASC_LBA_OUT_OF_RANGE	0x21
#define ASC_INVALID_FIELD	0x24
#define ASC_SAVING_UNSUPPORTED	0x39
#define ASC_MEDIUM_CHANGED	0x28
#define ASC_NO_MEDIUM		0x3a
#define ASC_REMOVAL_PREVENTED	0x53
#define ASC_UNRECOVERED_READ	0x11
#define ASC_ILLEGAL_MODE	0x64	/* illegal mode for this track */

/* MMC profiles (table 89) */
#define PROFILE_CD_ROM		0x0008
#define PROFILE_DVD_ROM		0x0010

static uint16_t be16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

void atapi_identify(struct ide_drive *d, uint16_t *id)
{
	uint8_t mode = d->xfer_mode;

	memset(id, 0, 512);
	/* ATAPI, CD-ROM (05h), removable, DRQ within 50 us, 12-byte packets */
	id[0] = 2 << 14 | 0x05 << 8 | 1 << 7 | 2 << 5;
	ide_put_string(id, 10, 10, d->serial);
	ide_put_string(id, 23, 4, "1.0");
	ide_put_string(id, 27, 20, "Guesthouse DVD-ROM");
	id[49] = 1 << 11 | 1 << 9 | 1 << 8;	/* IORDY, LBA, DMA */
	id[53] = 0x0006;			/* words 64-70 and 88 valid */
	id[63] = 0x07 | ((mode >> 3) == 4 ? 0x100 << (mode & 7) : 0);
	id[64] = 0x03;
	id[65] = id[66] = id[67] = id[68] = 120;
	id[71] = 30;				/* PACKET to bus release, ns */
	id[72] = 30;
	id[80] = 0x7e;
	id[82] = 1 << 14 | 1 << 4;		/* NOP, PACKET */
	id[83] = 1 << 14;
	id[84] = 1 << 14;
	id[85] = 1 << 14 | 1 << 4;
	id[87] = 1 << 14;
	id[88] = 0x3f | ((mode >> 3) == 8 ? 0x100 << (mode & 7) : 0);
	id[93] = 1 << 14 | 1 << 13 | 1;
	ide_id_checksum(id);
}

void atapi_reset(struct ide_drive *d)
{
	d->sense_key = d->asc = d->ascq = 0;
	d->locked = false;
	d->tray_open = false;
	d->xfer_mode = 0x22;
}

static void set_sense(struct ide_drive *d, uint8_t key, uint8_t asc,
		      uint8_t ascq)
{
	d->sense_key = key;
	d->asc = asc;
	d->ascq = ascq;
}

/* Command completion (9.10): I/O and C/D set, DRQ clear, an interrupt. */
static void complete(struct ide_drive *d, uint8_t status)
{
	d->end = END_NONE;
	d->dma = DMA_NONE;
	d->pos = d->limit = d->fill = 0;
	d->reply_left = 0;
	d->nsector = ATAPI_IR_IO | ATAPI_IR_COD;
	d->status = status;
	ide_raise_irq(d);
}

static void atapi_ok(struct ide_drive *d)
{
	complete(d, ATA_DRDY | ATA_DSC);
}

/* CHECK CONDITION: ERR, the sense key in the error register's top half */
static void check_condition(struct ide_drive *d)
{
	d->error = d->sense_key << 4 | ATA_ERR_ABRT;
	complete(d, ATA_DRDY | ATA_DSC | ATA_ERR);
}

static void fail(struct ide_drive *d, uint8_t key, uint8_t asc, uint8_t ascq)
{
	set_sense(d, key, asc, ascq);
	check_condition(d);
}

static bool need_medium(struct ide_drive *d)
{
	if (!d->blk) {
		fail(d, SENSE_NOT_READY, ASC_NO_MEDIUM, 0x01);	/* tray closed */
		return false;
	}
	if (d->tray_open) {
		fail(d, SENSE_NOT_READY, ASC_NO_MEDIUM, 0x02);	/* tray open */
		return false;
	}
	return true;
}

void atapi_packet_cmd(struct ide_drive *d)
{
	uint32_t limit = d->lbah << 8 | d->lbam;

	d->packet_dma = d->feature & 1;
	/* 0 is not a valid limit; an odd one would split words (9.10) */
	if (!limit || limit == 0xffff)
		limit = 0xfffe;
	limit &= ~1u;
	d->byte_limit = limit ? limit : 2;
	d->pos = 0;
	d->limit = d->fill = sizeof(d->cdb);
	d->pio_out = true;
	d->end = END_PACKET;
	d->nsector = ATAPI_IR_COD;
	/* no interrupt: identify word 0 says the DRQ comes within 50 us */
	d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
}

/* The next part of a read into buf: 0, or -1 with the sense set. */
static int cd_fill(struct ide_drive *d)
{
	uint32_t n = MIN(d->reply_left, (uint64_t)IDE_BUF_SIZE) / CD_SECTOR;

	if (!d->blk || d->tray_open) {
		set_sense(d, SENSE_NOT_READY, ASC_NO_MEDIUM, 0);
		return -1;
	}
	if (gh_block_read(d->blk, d->cd_lba, d->buf, n) < 0) {
		set_sense(d, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ, 0);
		return -1;
	}
	d->cd_lba += n;
	d->reply_left -= (uint64_t)n * CD_SECTOR;
	d->pos = 0;
	d->fill = n * CD_SECTOR;
	return 0;
}

void atapi_pio_next(struct ide_drive *d)
{
	uint32_t chunk;

	if (d->pos == d->fill) {
		if (!d->reply_left) {
			atapi_ok(d);
			return;
		}
		if (cd_fill(d) < 0) {
			check_condition(d);
			return;
		}
	}
	chunk = MIN(d->fill - d->pos, d->byte_limit);
	d->limit = d->pos + chunk;
	d->pio_out = false;
	d->end = END_ATAPI_READ;
	d->lbam = chunk;
	d->lbah = chunk >> 8;
	d->nsector = ATAPI_IR_IO;
	d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
	ide_raise_irq(d);
}

int atapi_dma_fill(struct ide_drive *d)
{
	if (!d->reply_left)
		return 1;
	return cd_fill(d);
}

void atapi_dma_done(struct ide_drive *d, bool ok, bool bus_error)
{
	if (ok) {
		atapi_ok(d);
		return;
	}
	if (bus_error)
		set_sense(d, SENSE_ABORTED_COMMAND, 0, 0);
	check_condition(d);
}

/*
 * Data-in of len bytes: a reply already in buf (reads: reply_left bytes
 * from cd_lba, buf empty), by PIO in DRQ chunks of at most the byte count
 * limit, or by DMA once the bus master runs.
 */
static void data_in(struct ide_drive *d, uint32_t in_buf)
{
	d->pos = 0;
	d->fill = in_buf;
	if (!in_buf && !d->reply_left) {
		atapi_ok(d);
		return;
	}
	if (d->packet_dma) {
		d->dma = DMA_ATAPI;
		d->nsector = ATAPI_IR_IO;
		d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
		ide_dma_ready(d);
		return;
	}
	atapi_pio_next(d);
}

/* A reply of len bytes built in buf, cut to the allocation length. */
static void reply(struct ide_drive *d, uint32_t len, uint32_t alloc)
{
	d->reply_left = 0;
	data_in(d, MIN(len, alloc));
}

static void cmd_read(struct ide_drive *d, uint64_t lba, uint64_t count)
{
	uint64_t sectors;

	if (!need_medium(d))
		return;
	sectors = gh_block_sectors(d->blk);
	if (lba > sectors || count > sectors - lba) {
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
		return;
	}
	/* --verbose shows what the guest reads (the boot tests follow a
	 * bootloader with it) */
	g_debug("ide%u.%u: read %" G_GUINT64_FORMAT " sectors at %"
		G_GUINT64_FORMAT "%s", d->ch->index, d->unit, count, lba,
		d->packet_dma ? " by DMA" : "");
	d->cd_lba = lba;
	d->reply_left = count * CD_SECTOR;
	data_in(d, 0);
}

/*
 * READ CD (MMC-5, 6.19) of our one track, mode 1 data: the user data of
 * each sector, or no field at all. An ISO image keeps nothing else (sync,
 * headers, EDC/ECC, C2 errors, subchannels), so asking for those is an
 * invalid field, and for another sector type (CD-DA, mode 2) an illegal
 * mode for the track.
 */
static void cmd_read_cd(struct ide_drive *d)
{
	const uint8_t *c = d->cdb;
	unsigned type = (c[1] >> 2) & 7;
	uint32_t count = c[6] << 16 | c[7] << 8 | c[8];

	if (!need_medium(d))
		return;
	if (type != 0 && type != 2) {		/* any type, or mode 1 */
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_ILLEGAL_MODE, 0);
		return;
	}
	if ((c[9] != 0x00 && c[9] != 0x10) || (c[10] & 7)) {
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	cmd_read(d, be32(c + 2), c[9] ? count : 0);
}

/*
 * READ DISC INFORMATION (MMC-5, 6.22), standard data type only: a
 * finalized disc of one complete session holding track 1.
 */
static void cmd_read_disc_info(struct ide_drive *d)
{
	uint8_t *b = d->buf;

	if (!need_medium(d))
		return;
	if (d->cdb[1] & 7) {
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	memset(b, 0, 34);
	put_be16(b, 34 - 2);
	b[2] = 3 << 2 | 2;		/* last session complete, disc complete */
	b[3] = 1;			/* first track on the disc */
	b[4] = 1;			/* sessions */
	b[5] = 1;			/* first track of the last session */
	b[6] = 1;			/* last track of the last session */
	b[7] = 0x20;			/* URU: unrestricted use */
	b[8] = 0x00;			/* disc type: CD-DA or CD-ROM */
	/* no lead-in or lead-out left to write on a complete disc */
	memset(b + 16, 0xff, 8);
	reply(d, 34, be16(d->cdb + 7));
}

static void cmd_request_sense(struct ide_drive *d)
{
	uint8_t *b = d->buf;

	memset(b, 0, 18);
	b[0] = 0x70;			/* current error, fixed format */
	b[2] = d->sense_key;
	b[7] = 10;			/* additional sense length */
	b[12] = d->asc;
	b[13] = d->ascq;
	set_sense(d, SENSE_NONE, 0, 0);
	reply(d, 18, d->cdb[4]);
}

static void cmd_inquiry(struct ide_drive *d)
{
	uint8_t *b = d->buf;

	if (d->cdb[1] & 1) {		/* no vital product data pages */
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	memset(b, 0, 36);
	b[0] = 0x05;			/* CD/DVD device */
	b[1] = 0x80;			/* removable */
	b[2] = 0x00;
	b[3] = 0x21;			/* ATAPI version 2, format 1 */
	b[4] = 36 - 5;
	memcpy(b + 8, "GHOUSE  ", 8);
	memcpy(b + 16, "Guesthouse DVD  ", 16);
	memcpy(b + 32, "1.0 ", 4);
	reply(d, 36, be16(d->cdb + 3));
}

static void cmd_read_capacity(struct ide_drive *d)
{
	if (!need_medium(d))
		return;
	put_be32(d->buf, gh_block_sectors(d->blk) - 1);
	put_be32(d->buf + 4, CD_SECTOR);
	reply(d, 8, 8);
}

/* An address field: an LBA, or MSF with the 2-second pregap (MMC-5, 6.33) */
static void put_addr(uint8_t *p, uint32_t lba, bool msf)
{
	if (msf) {
		uint32_t x = lba + 150;

		p[0] = 0;
		p[1] = x / (60 * 75);
		p[2] = x / 75 % 60;
		p[3] = x % 75;
	} else {
		put_be32(p, lba);
	}
}

/* READ TOC/PMA/ATIP (MMC-5, 6.33): one data track and the lead-out. */
static void cmd_read_toc(struct ide_drive *d)
{
	const uint8_t *c = d->cdb;
	bool msf = c[1] & 2;
	unsigned format = c[2] & 0xf, track = c[6];
	uint8_t *b = d->buf;
	uint32_t len = 4;

	if (!need_medium(d))
		return;
	if (!format)
		format = c[9] >> 6;	/* the older place for it */
	memset(b, 0, 32);
	switch (format) {
	case 0:				/* formatted TOC */
		if (track > 1 && track != 0xaa) {
			fail(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
			return;
		}
		b[2] = 1;		/* first track */
		b[3] = 1;		/* last track */
		if (track <= 1) {
			b[len + 1] = 0x14;	/* ADR 1, data track */
			b[len + 2] = 1;
			put_addr(b + len + 4, 0, msf);
			len += 8;
		}
		b[len + 1] = 0x14;
		b[len + 2] = 0xaa;	/* the lead-out */
		put_addr(b + len + 4, gh_block_sectors(d->blk), msf);
		len += 8;
		break;
	case 1:				/* multi-session information */
		b[2] = 1;		/* first session */
		b[3] = 1;		/* last session */
		b[5] = 0x14;
		b[6] = 1;		/* first track of the last session */
		put_addr(b + 8, 0, msf);
		len = 12;
		break;
	default:
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	put_be16(b, len - 2);
	reply(d, len, be16(c + 7));
}

static uint16_t current_profile(struct ide_drive *d)
{
	if (!d->blk || d->tray_open)
		return 0;
	return gh_block_sectors(d->blk) > CD_MAX_SECTORS ? PROFILE_DVD_ROM :
							   PROFILE_CD_ROM;
}

/* One feature descriptor (MMC-5, 5.2): code, version/persistent/current,
 * the additional length; returns where the next one goes. */
static uint8_t *feature(uint8_t *p, uint16_t code, uint8_t flags,
			uint8_t len)
{
	put_be16(p, code);
	p[2] = flags;
	p[3] = len;
	return p + 4;
}

/* RT 0 and 1: the features from start on (ours are all current); RT 2:
 * that one feature. */
static bool want_feature(unsigned rt, unsigned start, unsigned code)
{
	return rt == 2 ? code == start : code >= start;
}

/* GET CONFIGURATION (MMC-5, 6.6): Profile List, Core, Removable Medium. */
static void cmd_get_configuration(struct ide_drive *d)
{
	const uint8_t *c = d->cdb;
	unsigned rt = c[1] & 3, start = be16(c + 2);
	uint16_t profile = current_profile(d);
	uint8_t *b = d->buf, *p = b + 8;

	if (rt == 3) {
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	memset(b, 0, 64);
	put_be16(b + 6, profile);
	if (want_feature(rt, start, 0x0000)) {
		p = feature(p, 0x0000, 0x03, 8);
		put_be16(p, PROFILE_DVD_ROM);
		p[2] = profile == PROFILE_DVD_ROM;
		put_be16(p + 4, PROFILE_CD_ROM);
		p[6] = profile == PROFILE_CD_ROM;
		p += 8;
	}
	if (want_feature(rt, start, 0x0001)) {
		p = feature(p, 0x0001, 0x0b, 8);	/* version 2 */
		put_be32(p, 2);				/* ATAPI */
		p[4] = 1;				/* DBE */
		p += 8;
	}
	if (want_feature(rt, start, 0x0003)) {
		p = feature(p, 0x0003, 0x03, 4);
		/* tray, eject, lock (and whether it is locked) */
		p[0] = 1 << 5 | 1 << 3 | 1 | (d->locked ? 1 << 2 : 0);
		p += 4;
	}
	put_be32(b, (p - b) - 4);
	reply(d, p - b, be16(c + 7));
}

/* GET EVENT STATUS NOTIFICATION (MMC-5, 6.8): polled, media class only. */
static void cmd_get_event_status(struct ide_drive *d)
{
	const uint8_t *c = d->cdb;
	uint8_t *b = d->buf;
	uint32_t len;

	if (!(c[1] & 1)) {		/* asynchronous: not supported */
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	memset(b, 0, 8);
	b[3] = 1 << 4;			/* supported classes: media */
	if (c[4] & (1 << 4)) {
		b[2] = 4;		/* media class */
		b[4] = d->media_event;
		b[5] = (d->blk && !d->tray_open ? 2 : 0) |
		       (d->tray_open ? 1 : 0);
		d->media_event = MEDIA_EV_NONE;
		len = 8;
	} else {
		b[2] = 0x80;		/* no event available */
		len = 4;
	}
	put_be16(b, len - 2);
	reply(d, len, be16(c + 7));
}

/* MODE SENSE(10) (SPC-3, 6.10): error recovery (01h), capabilities (2Ah). */
static void cmd_mode_sense(struct ide_drive *d)
{
	const uint8_t *c = d->cdb;
	unsigned page = c[2] & 0x3f, pc = c[2] >> 6;
	uint8_t *b = d->buf, *p = b + 8;

	if (pc == 3) {
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_SAVING_UNSUPPORTED, 0);
		return;
	}
	if (page != 0x01 && page != 0x2a && page != 0x3f) {
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	memset(b, 0, 64);
	if (page == 0x01 || page == 0x3f) {
		p[0] = 0x01;
		p[1] = 10;
		/* changeable values (pc 1) are all zero */
		if (pc != 1)
			p[3] = 5;	/* read retry count */
		p += 12;
	}
	if (page == 0x2a || page == 0x3f) {
		p[0] = 0x2a;
		p[1] = 20;
		if (pc != 1) {
			p[2] = 0x3b;	/* reads CD-R/RW, method 2, DVD-ROM/R/RAM */
			p[4] = 0x71;	/* audio play, mode 2 forms, multisession */
			p[5] = 0x01;	/* CD-DA commands */
			/* tray loading, eject, lock, its state */
			p[6] = 1 << 5 | 1 << 3 | 1 | (d->locked ? 2 : 0);
			put_be16(p + 8, 706 * 8);	/* max read kB/s */
			put_be16(p + 10, 256);		/* volume levels */
			put_be16(p + 12, 512);		/* buffer, KiB */
			put_be16(p + 14, 706 * 8);	/* current read kB/s */
		}
		p += 22;
	}
	put_be16(b, (p - b) - 2);
	reply(d, p - b, be16(c + 7));
}

/* START STOP UNIT (MMC-5, 6.39): LoEj with Start clear opens the tray. */
static void cmd_start_stop(struct ide_drive *d)
{
	bool loej = d->cdb[4] & 2, start = d->cdb[4] & 1;

	if (loej && !start) {
		if (d->locked) {
			fail(d, SENSE_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED, 2);
			return;
		}
		if (!d->tray_open && d->blk)
			d->media_event = MEDIA_EV_REMOVAL;
		d->tray_open = true;
	} else if (loej) {
		if (d->tray_open && d->blk) {
			d->media_event = MEDIA_EV_NEW;
			d->unit_attention = true;
		}
		d->tray_open = false;
	}
	atapi_ok(d);
}

static void cmd_mechanism_status(struct ide_drive *d)
{
	uint8_t *b = d->buf;

	memset(b, 0, 8);
	b[1] = d->tray_open ? 1 << 4 : 0;	/* door open */
	reply(d, 8, be16(d->cdb + 8));
}

void atapi_run_packet(struct ide_drive *d)
{
	const uint8_t *c = d->cdb;
	uint8_t op;

	memcpy(d->cdb, d->buf, sizeof(d->cdb));
	op = c[0];
	d->end = END_NONE;
	d->reply_left = 0;
	/* after a media change, the next command but these three fails
	 * once with UNIT ATTENTION (SPC-3, 5.9.7; MMC-5, 4.1.6.1) */
	if (d->unit_attention && op != 0x03 && op != 0x12 && op != 0x4a) {
		d->unit_attention = false;
		fail(d, SENSE_UNIT_ATTENTION, ASC_MEDIUM_CHANGED, 0);
		return;
	}
	if (op != 0x03)
		set_sense(d, SENSE_NONE, 0, 0);
	switch (op) {
	case 0x00:			/* TEST UNIT READY */
		if (need_medium(d))
			atapi_ok(d);
		break;
	case 0x03:
		cmd_request_sense(d);
		break;
	case 0x12:
		cmd_inquiry(d);
		break;
	case 0x1b:
		cmd_start_stop(d);
		break;
	case 0x1e:			/* PREVENT ALLOW MEDIUM REMOVAL */
		d->locked = c[4] & 1;
		atapi_ok(d);
		break;
	case 0x25:
		cmd_read_capacity(d);
		break;
	case 0x28:			/* READ(10) */
		cmd_read(d, be32(c + 2), be16(c + 7));
		break;
	case 0xa8:			/* READ(12) */
		cmd_read(d, be32(c + 2), be32(c + 6));
		break;
	case 0x2b:			/* SEEK(10) */
		if (need_medium(d))
			atapi_ok(d);
		break;
	case 0x43:
		cmd_read_toc(d);
		break;
	case 0x46:
		cmd_get_configuration(d);
		break;
	case 0x4a:
		cmd_get_event_status(d);
		break;
	case 0x51:
		cmd_read_disc_info(d);
		break;
	case 0xbe:
		cmd_read_cd(d);
		break;
	case 0x5a:
		cmd_mode_sense(d);
		break;
	case 0xbb:			/* SET CD SPEED */
		atapi_ok(d);
		break;
	case 0xbd:
		cmd_mechanism_status(d);
		break;
	default:
		gh_log_guest(&d->ch->ide->rl, "ide%u.%u: SCSI command 0x%02x "
			     "not supported", d->ch->index, d->unit, op);
		fail(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
	}
}
