/* The banger agent wire protocol, shared by agent/ (guest) and vmm/ (host).
 *
 * Transport: a byte stream (virtio-serial port "org.banger.agent" under QEMU,
 * vsock under Firecracker). Messages are single lines of printable ASCII,
 * at most BANGER_AGENT_LINE_MAX bytes including the '\n'. A line is a verb
 * followed by space-separated key=value pairs; values hold no spaces. A key
 * may repeat (hostkey=): read those with banger_agent_field_next().
 * Unknown verbs and keys are ignored by both sides (forward compatibility).
 *
 * An SSH public key travels as "<type>:<base64>": the first two fields of
 * an OpenSSH .pub / authorized_keys line joined by ':', e.g.
 * "ssh-ed25519:AAAAC3NzaC1lZDI1NTE5AAAA...". banger_agent_key_valid()
 * checks that form.
 *
 * guest -> host
 *   hello proto=2 agent=<version> kernel=<uname -r> uptime_ms=<n> [hostkey=<key> ...]
 *       sent every time the host side (re)connects to the port; one hostkey
 *       per SSH host key of the guest (full public keys, so the host can
 *       write known_hosts lines "<host> <type> <base64>" from them). Guest
 *       images create their host keys before they start the agent.
 *   pong id=<n>
 *   ack verb=<verb>
 *   fail verb=<verb> reason=<text without spaces>
 *
 * host -> guest
 *   ping id=<n>
 *   shutdown            clean power-off (sync, then poweroff): ack verb=shutdown
 *   authorize key=<key> make root's ~/.ssh/authorized_keys hold the line
 *                       "<type> <base64> banger" (other lines are kept, no
 *                       duplicates): ack verb=authorize, or fail verb=authorize
 *   identify name=<hostname> [mac=<mac> ip=<addr/prefix> gw=<ip> dns=<ip>]
 *            machine_id=<32 hex> entropy=<hex> time_ns=<unix ns> [work=1]
 *                       (proto 3) a guest restored from a template becomes a
 *                       machine of its own: clock set, entropy added to the
 *                       kernel RNG (RNDADDENTROPY), /etc/machine-id, hostname
 *                       and /etc/hosts, eth0's MAC and address (bridge mode),
 *                       the hot-plugged work disk /dev/vdb mounted on /root
 *                       (work=1), new SSH host keys with sshd restarted;
 *                       then ack verb=identify and a fresh hello with the new
 *                       keys (or fail verb=identify reason=...). The host
 *                       pins only the keys of that later hello.
 *            [hostkey_ed25519=<hex>] (optional) the host made the clone's
 *                       SSH host key: hex of an unencrypted OpenSSH private
 *                       key file, installed (0600) instead of new keys made
 *                       in the guest, the other host keys removed; the
 *                       hello must then report that key alone
 *
 * Version 2 had no identify verb. Version 1 sent host key fingerprints ("<type>:SHA256:<b64>") and had no
 * authorize verb; lines were at most 1024 bytes.
 */
#ifndef BANGER_AGENT_PROTOCOL_H
#define BANGER_AGENT_PROTOCOL_H

#include <stddef.h>
#include <string.h>

#define BANGER_AGENT_PROTO_VERSION 3
#define BANGER_AGENT_VERSION "0.3.0"
#define BANGER_AGENT_PORT_NAME "org.banger.agent"
#define BANGER_AGENT_VSOCK_PORT 1024 /* the agent listens here when there is no serial port */
#define BANGER_AGENT_LINE_MAX 4096
#define BANGER_AGENT_KEY_TYPE_MAX 64

/* The value of the first key=value field after the first space at or after
 * from, or NULL; *len is set to the value's length. */
static inline const char *banger_agent_find_value(const char *from, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	const char *p;

	if (!from)
		return NULL;
	for (p = strchr(from, ' '); p; p = strchr(p, ' ')) {
		p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			p += klen + 1;
			*len = strcspn(p, " \n");
			return p;
		}
	}
	return NULL;
}

/* Copies the value of key in line (a verb plus key=value pairs) into out.
 * Returns the value's length, or -1 when the key is absent or out is too
 * small. A repeated key yields its first value. */
static inline int banger_agent_field(const char *line, const char *key, char *out, size_t out_size)
{
	size_t n;
	const char *v = banger_agent_find_value(line, key, &n);

	if (!v || n + 1 > out_size)
		return -1;
	memcpy(out, v, n);
	out[n] = '\0';
	return (int)n;
}

/* Iterates over the values of a key that may repeat. Pass pos = NULL for the
 * first value, then the previous return value. Copies the next value into
 * out and returns where to continue, or NULL when there are no more values.
 * Values that do not fit in out (with their '\0') are skipped.
 *
 *     const char *pos = NULL;
 *     while ((pos = banger_agent_field_next(line, "hostkey", pos, key, sizeof(key))))
 *             use(key);
 */
static inline const char *banger_agent_field_next(const char *line, const char *key, const char *pos, char *out,
						  size_t out_size)
{
	const char *v = pos ? pos : line;
	size_t n;

	while ((v = banger_agent_find_value(v, key, &n))) {
		if (n + 1 <= out_size) {
			memcpy(out, v, n);
			out[n] = '\0';
			return v + n;
		}
		v += n;
	}
	return NULL;
}

/* True when line starts with verb followed by a space, '\n' or the end. */
static inline int banger_agent_is_verb(const char *line, const char *verb)
{
	size_t n = strlen(verb);
	return strncmp(line, verb, n) == 0 && (line[n] == ' ' || line[n] == '\n' || line[n] == '\0');
}

/* True when the n characters at s are an SSH key type: [a-z0-9@.-]+, at most
 * BANGER_AGENT_KEY_TYPE_MAX - 1 of them. */
static inline int banger_agent_key_type_valid(const char *s, size_t n)
{
	if (n == 0 || n >= BANGER_AGENT_KEY_TYPE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '@' || s[i] == '.' ||
		      s[i] == '-'))
			return 0;
	return 1;
}

/* True when the n characters at s are padded base64 ([A-Za-z0-9+/], then at
 * most two '=', length a multiple of 4), as in OpenSSH key lines. */
static inline int banger_agent_base64_valid(const char *s, size_t n)
{
	size_t data = n;

	if (n == 0 || n % 4 != 0)
		return 0;
	while (data > 0 && n - data < 2 && s[data - 1] == '=')
		data--;
	for (size_t i = 0; i < data; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '+' || s[i] == '/'))
			return 0;
	return 1;
}

/* True when key is "<type>:<base64>" with a valid type and base64. */
static inline int banger_agent_key_valid(const char *key)
{
	const char *colon = strchr(key, ':');

	return colon && banger_agent_key_type_valid(key, (size_t)(colon - key)) &&
	       banger_agent_base64_valid(colon + 1, strlen(colon + 1));
}

#endif
