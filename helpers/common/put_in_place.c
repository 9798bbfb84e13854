/* See put_in_place.h. */
#include "put_in_place.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

int put_in_place(const char *staged, const char *dest, bgr_error *err)
{
	_cleanup_free_ char *parent = xstrdup(dest);
	int r;

	*strrchr(parent, '/') = '\0';
	r = mkdir_p(parent, 0755);
	if (r < 0)
		return bgr_fail(err, -r, "mkdir %s: %s", parent, strerror(-r));
	if (renameat2(AT_FDCWD, staged, AT_FDCWD, dest, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EEXIST)
		return bgr_fail(err, errno, "rename to %s: %s", dest, strerror(errno));
	if (renameat2(AT_FDCWD, staged, AT_FDCWD, dest, RENAME_EXCHANGE) < 0)
		return bgr_fail(err, errno, "replace %s: %s", dest, strerror(errno));
	return 0;
}
