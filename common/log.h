/* The daemon log (bangerd.log, and stderr in the foreground). */
#ifndef BANGER_LOG_H
#define BANGER_LOG_H

#include <stdbool.h>

int log_open(const char *path, bool to_stderr);
void log_close(void);
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Appends one timestamped line to the file at path (a VM's log) and to the
 * daemon log, prefixed with tag. */
void log_to_file(const char *path, const char *tag, const char *line);

/* Replaces control characters (newlines, escapes, DEL) with '?' in place:
 * guest text made safe for one line of a log, `error` or a terminal. */
void text_one_line(char *text);

#endif
