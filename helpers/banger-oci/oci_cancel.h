/* Cancelling an import: banger-oci's SIGINT/SIGTERM handler sets the flag;
 * downloads and layer unpacking check it and fail with "interrupted", so the
 * staging directory is still removed. */
#ifndef BANGER_OCI_CANCEL_H
#define BANGER_OCI_CANCEL_H

#include <signal.h>

extern volatile sig_atomic_t oci_cancelled;

#endif
