/* Whole-file reads of small files (/proc, /sys, key files). */
#ifndef BANGER_AGENT_READFILE_H
#define BANGER_AGENT_READFILE_H

#include <stddef.h>
#include <stdint.h>

/* Reads up to size bytes of path into buf. Returns the length read, or -1. */
long read_small_file(const char *path, uint8_t *buf, size_t size);

#endif
