/* Installing a complete staged directory into the store, atomically
 * (banger-pull and banger-oci). */
#ifndef BANGER_PUT_IN_PLACE_H
#define BANGER_PUT_IN_PLACE_H

#include "error.h"

/* Puts the complete dir `staged` at `dest` (creating dest's parent). An
 * existing dest is swapped out in one step (RENAME_EXCHANGE) and the old one
 * is left at `staged` for the caller's temp dir removal, so readers see the
 * old or the new, never none. */
int put_in_place(const char *staged, const char *dest, bgr_error *err);

#endif
