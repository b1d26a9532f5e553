/* The PC board: the one place that knows the whole machine. */
#ifndef GH_BOARD_H
#define GH_BOARD_H

#include "gh/error.h"

struct gh_vm;
struct gh_board;

/* Creates and realizes every device of the PC on vm, resets them with it. */
__attribute__((warn_unused_result))
int gh_board_new(struct gh_vm *vm, struct gh_board **out, struct gh_error *err);
void gh_board_free(struct gh_board *board);

/* Presses the ACPI power button (any thread): the OS decides what follows. */
void gh_board_power_button(struct gh_board *board);

#endif
