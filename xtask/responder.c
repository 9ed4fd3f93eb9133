/*
 * The minimal NTP responder of `cargo xtask bench-server`: the floor any
 * server is measured against. One blocking recvfrom and one sendto per
 * request, no poll, no control messages, no checks beyond the length: it
 * copies the request, sets mode 4, stratum 1, and the origin, receive and
 * transmit timestamps (one clock_gettime, a vDSO call, per request).
 *
 * Built by the benchmark with `gcc -O2`; usage: responder ADDRESS PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define NTP_UNIX_OFFSET 2208988800ULL

static void put_u32(unsigned char *p, uint32_t v) {
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDRESS PORT\n", argv[0]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", argv[1]);
        return 2;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("bind");
        return 1;
    }
    unsigned char buf[512];
    for (;;) {
        struct sockaddr_in from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
        if (n < 48) {
            continue;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        uint32_t sec = (uint32_t)(now.tv_sec + NTP_UNIX_OFFSET);
        uint32_t frac = (uint32_t)(((uint64_t)now.tv_nsec << 32) / 1000000000ULL);
        unsigned char version = (buf[0] >> 3) & 7;
        buf[0] = (unsigned char)((version << 3) | 4);
        buf[1] = 1;                          /* stratum */
        buf[3] = (unsigned char)-20;         /* precision */
        memset(buf + 4, 0, 8);               /* root delay, dispersion */
        memcpy(buf + 12, "LOCL", 4);         /* reference ID */
        memcpy(buf + 24, buf + 40, 8);       /* origin = request transmit */
        put_u32(buf + 16, sec);              /* reference time */
        put_u32(buf + 20, 0);
        put_u32(buf + 32, sec);              /* receive */
        put_u32(buf + 36, frac);
        put_u32(buf + 40, sec);              /* transmit */
        put_u32(buf + 44, frac);
        sendto(fd, buf, 48, 0, (struct sockaddr *)&from, fromlen);
    }
}
