/* The ACPI power management device (devices/pc/acpi-pm.c): what the host may ask of it. */
#ifndef GH_ACPI_PM_H
#define GH_ACPI_PM_H

struct gh_acpi_pm;

/*
 * A press of the fixed-feature power button (ACPI 6.3, 4.8.2.2.1.1): sets
 * PWRBTN_STS, which raises the SCI if the OS enabled it. The OS decides
 * what to do (usually: shut down). Called with the device lock held.
 */
void gh_acpi_pm_power_button(struct gh_acpi_pm *pm);

#endif
