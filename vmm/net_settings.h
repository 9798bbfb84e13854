#ifndef BANGER_NET_SETTINGS_H
#define BANGER_NET_SETTINGS_H

#include "vmm.h"

/* Fills s from the environment; a bad value is an error naming the key. */
int net_settings_load(struct vmm_net_settings *s, bgr_error *err);

#endif
