/* The banger agent wire protocol, shared by agent/ (guest) and vmm/ (host).
 *
 * Transport: a byte stream (virtio-serial port "org.banger.agent" under QEMU,
 * vsock under Firecracker). Messages are single lines of printable ASCII,
 * at most BANGER_AGENT_LINE_MAX bytes including the '\n'. A line is a verb
 * followed by space-separated key=value pairs; values hold no spaces.
 * Unknown verbs and keys are ignored by both sides (forward compatibility).
 *
 * guest -> host
 *   hello proto=1 agent=<version> kernel=<uname -r> uptime_ms=<n> [hostkey=<type>:<SHA256 fp> ...]
 *       sent every time the host side (re)connects to the port
 *   pong id=<n>
 *   ack verb=shutdown
 *
 * host -> guest
 *   ping id=<n>
 *   shutdown            clean power-off (sync, then poweroff)
 */
#ifndef BANGER_AGENT_PROTOCOL_H
#define BANGER_AGENT_PROTOCOL_H

#include <stddef.h>
#include <string.h>

#define BANGER_AGENT_PROTO_VERSION 1
#define BANGER_AGENT_VERSION "0.1.0"
#define BANGER_AGENT_PORT_NAME "org.banger.agent"
#define BANGER_AGENT_LINE_MAX 1024

/* Copies the value of key in line (a verb plus key=value pairs) into out.
 * Returns the value's length, or -1 when the key is absent or out is too
 * small. */
static inline int banger_agent_field(const char *line, const char *key, char *out, size_t out_size)
{
	size_t klen = strlen(key);
	const char *p = strchr(line, ' ');

	while (p) {
		p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			const char *v = p + klen + 1;
			size_t n = strcspn(v, " \n");
			if (n + 1 > out_size)
				return -1;
			memcpy(out, v, n);
			out[n] = '\0';
			return (int)n;
		}
		p = strchr(p, ' ');
	}
	return -1;
}

/* True when line starts with verb followed by a space, '\n' or the end. */
static inline int banger_agent_is_verb(const char *line, const char *verb)
{
	size_t n = strlen(verb);
	return strncmp(line, verb, n) == 0 && (line[n] == ' ' || line[n] == '\n' || line[n] == '\0');
}

#endif
