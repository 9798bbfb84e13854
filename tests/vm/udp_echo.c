/* A UDP echo server for the guest (the tiny image's busybox nc has no UDP):
 * answers every datagram on 0.0.0.0:PORT with "echo:" and the datagram.
 * Built static, copied into the guest by tests/vm/ports.sh. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	char buf[65536 + 5] = "echo:";
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: udp_echo PORT\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("udp_echo");
		return 1;
	}
	for (;;) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		ssize_t n = recvfrom(fd, buf + 5, sizeof(buf) - 5, 0, (struct sockaddr *)&peer, &len);
		if (n >= 0)
			sendto(fd, buf, (size_t)n + 5, 0, (struct sockaddr *)&peer, len);
	}
}
