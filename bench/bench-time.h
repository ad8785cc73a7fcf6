/*
 * The benchmarks' clock, for programs with libspindle (bench-common.h)
 * and without it (tcpbench.c).
 */
#include <time.h>

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}
