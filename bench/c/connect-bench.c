/* SPDX-License-Identifier: Apache-2.0 */
/*
 * connect-bench <ipv4> <port> <count> <warmup>: times `count` blocking TCP connect() calls to
 * ipv4:port itself (clock_gettime(CLOCK_MONOTONIC) right before and right after connect()), each
 * socket closed with RST (SO_LINGER 0: no TIME_WAIT). The timer's own cost is measured too (the
 * median of back-to-back clock_gettime pairs) and reported as overhead_ns.
 * Prints one JSON line: {"n":..,"errors":..,"p50us":..,"p99us":..,"overhead_ns":..}.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: connect-bench <ipv4> <port> <count> <warmup>\n");
		return 2;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "connect-bench: bad address %s\n", argv[1]);
		return 2;
	}
	int count = atoi(argv[3]), warmup = atoi(argv[4]);
	long long *lat = calloc((size_t)count, sizeof(long long));
	long long *ovh = calloc(1001, sizeof(long long));
	if (!lat || !ovh)
		return 1;
	for (int i = 0; i < 1001; i++) {
		long long a = now_ns();
		long long b = now_ns();
		ovh[i] = b - a;
	}
	qsort(ovh, 1001, sizeof(long long), cmp_ll);
	int n = 0, errors = 0;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	for (int i = 0; i < count + warmup; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			errors++;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		long long t0 = now_ns();
		int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		long long t1 = now_ns();
		close(fd);
		if (rc != 0) {
			errors++;
			continue;
		}
		if (i >= warmup)
			lat[n++] = t1 - t0;
	}
	qsort(lat, (size_t)n, sizeof(long long), cmp_ll);
	double p50 = n ? lat[n / 2] / 1000.0 : -1, p99 = n ? lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1000.0 : -1;
	printf("{\"n\":%d,\"errors\":%d,\"p50us\":%.3f,\"p99us\":%.3f,\"overhead_ns\":%lld}\n", n, errors, p50, p99, ovh[500]);
	return 0;
}
