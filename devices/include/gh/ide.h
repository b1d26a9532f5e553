/*
 * The PIIX3 IDE controller (00:01.1): two legacy ATA channels with up to
 * two drives each (raw disk images, CD-ROM drives), and bus-master DMA.
 * The board's drive slots (gh_board_config.ide) are its drives in slot
 * order: primary master, primary slave, secondary master, secondary slave.
 */
#ifndef GH_IDE_H
#define GH_IDE_H

#include <stdbool.h>

#include "gh/error.h"

struct gh_ide;

/*
 * Changes the disc of the CD-ROM drive in slot (0-3), device lock held:
 * path NULL ejects it, else the ISO at path goes in (the old disc out)
 * and the guest sees a media change (UNIT ATTENTION, a media event). A
 * tray the guest locked (PREVENT ALLOW MEDIUM REMOVAL) over a disc refuses
 * both with -EBUSY and the guest is asked to eject (an eject-request
 * event) unless force. -ENODEV if the slot is not a CD-ROM drive; the open's
 * errors (gh_block_open) with the old disc kept.
 */
__attribute__((warn_unused_result))
int gh_ide_change_media(struct gh_ide *ide, unsigned slot, const char *path,
			bool force, struct gh_error *err);
/* Whether the drive in slot holds a disc (or an image, for disks). */
bool gh_ide_media_present(struct gh_ide *ide, unsigned slot);
/* Whether the guest locked the tray of the CD-ROM drive in slot. */
bool gh_ide_tray_locked(struct gh_ide *ide, unsigned slot);
/*
 * What slot holds now, device lock held: its kind (GH_DRIVE_NONE: no
 * drive), and into info (when not NULL) the image's path (g_free; NULL for
 * an empty drive), whether it is read-only and whether the tray is locked.
 */
struct gh_board_drive_info;
void gh_ide_drive_info(struct gh_ide *ide, unsigned slot,
		       struct gh_board_drive_info *info);

#endif
