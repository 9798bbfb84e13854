/* sha256 helpers shared by banger-pull and banger-oci (see sha256.h). */
#include "sha256.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

EVP_MD_CTX *sha256_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
		abort();
	return c;
}

void sha256_hex(EVP_MD_CTX *c, char out[SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	EVP_DigestFinal_ex(c, md, &len);
	for (unsigned i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

void sha256_zeros(EVP_MD_CTX *c, uint64_t n)
{
	static const unsigned char zeros[65536];
	for (; n > 0; n -= n > sizeof(zeros) ? sizeof(zeros) : n)
		EVP_DigestUpdate(c, zeros, n > sizeof(zeros) ? sizeof(zeros) : n);
}

int sha256_file(const char *path, char out[SHA256_HEX_LEN + 1], bgr_error *err)
{
	_cleanup_md_ EVP_MD_CTX *c = sha256_new();
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[1 << 16];
	ssize_t n;

	if (fd < 0)
		return bgr_fail(err, errno, "%s: %s", path, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(c, buf, n);
	if (n < 0)
		return bgr_fail(err, errno, "%s: %s", path, strerror(errno));
	sha256_hex(c, out);
	return 0;
}
