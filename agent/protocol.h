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
 *   hello proto=6 agent=<version> kernel=<uname -r> uptime_ms=<n> [hostkey=<key> ...]
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
 *            [authorize=<key>] (proto 6) banger's key as for authorize,
 *                       installed after the work disk's mount and synced
 *                       with the other files; the ack then says
 *                       authorized=1 and the host sends no authorize (an
 *                       older agent ignores the field and does not say it).
 *                       With hostkey_ed25519= (proto 6) the ack says
 *                       sshd=listening when an SSH server listens on port
 *                       22 with that key (restarted when it must be)
 *
 * Sessions (proto 4): long-lived commands whose output the host holds.
 * Free text travels as lowercase hex (banger_agent_hex_encode/_decode),
 * an id is [A-Za-z0-9][A-Za-z0-9._-]{0,63} (banger_agent_sess_id_valid),
 * offsets are absolute byte offsets into a stream since the session began,
 * times are unix milliseconds. fd=1 is stdout, fd=2 stderr; a tty session
 * has only fd=1 (the pty's output).
 *
 * host -> guest
 *   sess_start id=S cmd=<hex> [cwd=<hex>] [env=<hex of NAME=VALUE>]... [tty=1 rows=<n> cols=<n>]
 *       runs `/bin/sh -c CMD` as root in a new session (setsid) with a clean
 *       environment (PATH, HOME=/root, USER, LOGNAME, SHELL; TERM=xterm-256color
 *       with a tty), env= entries added or replacing, in cwd (default /root).
 *       stdin/stdout/stderr are pipes, or with tty=1 a new pty that is the
 *       controlling terminal, window rows x cols (1-65535; default 24x80).
 *       Answer: sess_started id=S pid=<pid> started_ms=<ms>, or
 *       fail verb=sess_start [id=S] reason=bad_id|exists|too_many|bad_cmd|
 *       bad_cwd|bad_env|bad_winsize|chdir:<errno name>|spawn:<errno name>.
 *       At most BANGER_AGENT_SESS_MAX sessions (running or not forgotten).
 *   sess_in id=S data=<hex>   bytes for stdin (tty: the pty master), at most
 *       BANGER_AGENT_SESS_IN_CHUNK per line; no answer on success.
 *   sess_in id=S eof=1        closes stdin (tty: writes the VEOF char, ^D).
 *       fail verb=sess_in [id=S] reason=bad_id|unknown|finished|stdin_closed|
 *       bad_hex|too_long|full (BANGER_AGENT_SESS_IN_QUEUE bytes of stdin wait for
 *       the command to read them; a host keeping to sess_in_ack never sees it).
 *   sess_signal id=S sig=<HUP|INT|QUIT|KILL|TERM|USR1|USR2|CONT|STOP|WINCH>
 *       to the session's process group: ack verb=sess_signal id=S, or fail
 *       reason=bad_id|unknown|finished|bad_signal|<errno name>.
 *   sess_winsize id=S rows=<n> cols=<n>   tty sessions: ack verb=sess_winsize
 *       id=S, or fail reason=bad_id|unknown|finished|not_tty|bad_winsize.
 *   sess_sync id=S out=<n> err=<n>   the host holds n bytes of each stream:
 *       the agent resends what it still has from there (sess_out), then the
 *       sess_exit of an ended session. No answer on success; fail
 *       reason=bad_id|unknown|bad_offset (n past the stream's end).
 *   sess_forget id=S          drops an ended session: ack verb=sess_forget id=S,
 *       or fail reason=bad_id|unknown|running.
 *   A sess_* line longer than BANGER_AGENT_LINE_MAX is answered with
 *   fail verb=<verb> [id=S] reason=line_too_long.
 *
 * guest -> host
 *   sess_out id=S fd=1|2 off=<n> data=<hex>   pushed as output arrives, in
 *       order, at most BANGER_AGENT_SESS_OUT_CHUNK bytes a line. The agent
 *       keeps the newest BANGER_AGENT_SESS_KEEP bytes of each stream; bytes
 *       dropped before the host got them show as off > what the host holds.
 *   sess_exit id=S status=exited:<n>|killed:<SIGNAME> ended_ms=<ms> out=<n> err=<n>
 *       after the last sess_out: the process was reaped and its pipes (pty)
 *       read to EOF, or for at most 2 s after the reap when something else
 *       (a background child) still holds them open; out/err are the final
 *       stream lengths; SIGNAME as in kill -l (TERM, SEGV; SIG<n> for one
 *       without a name). Sent again after each sess_sync of an ended session.
 *   sess_in_ack id=S in=<n> queued=<n> [closed=1]   (protocol 5) n bytes of
 *       stdin were written to the command since the session began, queued
 *       more wait in the agent. Sent when the queue runs empty or at least
 *       BANGER_AGENT_SESS_IN_ACK_EVERY bytes were written since the last one,
 *       once more when stdin is closed (closed=1: EOF, the command stopped
 *       reading, or it ended; queued bytes were dropped), and after each
 *       sess_sync. The host keeps what it sent minus in below
 *       BANGER_AGENT_SESS_IN_QUEUE so `full` never happens; after a new
 *       hello it sends no stdin until the ack that follows its sess_sync,
 *       and counts from in + queued.
 *   After every hello, the agent pushes nothing of a session it already had
 *   until the host's sess_sync for it; a session started on the connection
 *   is in sync at 0/0 from its sess_started. Writes never block the agent:
 *   while the host is away, output waits in the bounded stream buffers.
 *
 * Version 5 had no authorize= in identify. Version 4 had no sess_in_ack.
 * Version 3 had no sessions. Version 2 had no identify verb.
 * Version 1 sent host key fingerprints ("<type>:SHA256:<b64>") and had no authorize verb;
 * lines were at most 1024 bytes.
 */
#ifndef BANGER_AGENT_PROTOCOL_H
#define BANGER_AGENT_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BANGER_AGENT_PROTO_VERSION 6
#define BANGER_AGENT_VERSION "0.6.1"
#define BANGER_AGENT_PORT_NAME "org.banger.agent"
#define BANGER_AGENT_VSOCK_PORT 1024 /* the agent listens here when there is no serial port */
#define BANGER_AGENT_LINE_MAX 4096
#define BANGER_AGENT_KEY_TYPE_MAX 64
#define BANGER_AGENT_SESS_MAX 64                   /* sessions the agent keeps at once */
#define BANGER_AGENT_SESS_ID_MAX 64                /* characters of a session id */
#define BANGER_AGENT_SESS_IN_CHUNK 2000            /* data bytes of one sess_in */
#define BANGER_AGENT_SESS_OUT_CHUNK 1900           /* data bytes of one sess_out */
#define BANGER_AGENT_SESS_KEEP (1u << 20)          /* newest bytes kept per stream */
#define BANGER_AGENT_SESS_IN_QUEUE (256u << 10)    /* stdin bytes queued per session */
#define BANGER_AGENT_SESS_IN_ACK_EVERY (32u << 10) /* sess_in_ack at least this often */

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

/* Writes the n bytes at data as 2n lowercase hex digits and a '\0' to out
 * (which holds 2n + 1 chars). */
static inline void banger_agent_hex_encode(const void *data, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = data;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static inline int banger_agent_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes the hexlen lowercase hex digits at hex into out. Returns the
 * number of bytes (hexlen / 2), or -1 when hexlen is odd, a character is
 * not a lowercase hex digit, or the bytes do not fit in out_size. */
static inline long banger_agent_hex_decode(const char *hex, size_t hexlen, void *out, size_t out_size)
{
	uint8_t *o = out;

	if (hexlen % 2 || hexlen / 2 > out_size)
		return -1;
	for (size_t i = 0; i < hexlen / 2; i++) {
		int hi = banger_agent_hex_digit(hex[2 * i]), lo = banger_agent_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		o[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(hexlen / 2);
}

/* True when the n characters at id are a session id:
 * [A-Za-z0-9][A-Za-z0-9._-]{0,63}. */
static inline int banger_agent_sess_id_valid(const char *id, size_t n)
{
	if (n == 0 || n > BANGER_AGENT_SESS_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

#endif
