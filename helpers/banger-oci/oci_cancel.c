/* See oci_cancel.h. */
#include "oci_cancel.h"

volatile sig_atomic_t oci_cancelled;
