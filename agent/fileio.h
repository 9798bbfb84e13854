/* Small whole-file reads and complete writes. */
#ifndef BANGER_AGENT_FILEIO_H
#define BANGER_AGENT_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Reads up to size bytes of fd into buf. Returns the length read, or -1. */
long read_fd(int fd, uint8_t *buf, size_t size);

/* Reads up to size bytes of path into buf. Returns the length read, or -1. */
long read_small_file(const char *path, uint8_t *buf, size_t size);

/* Writes all len bytes, retrying short writes. Returns 0, or -1 (errno). */
int write_all(int fd, const void *buf, size_t len);

#endif
