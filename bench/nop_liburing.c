/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The liburing peer of uring/examples/nop.rs: NOP round trips in batches.
 * Usage: nop_liburing [OPS] [BATCH]. Queues BATCH NOPs (io_uring_get_sqe +
 * io_uring_prep_nop + user_data), io_uring_submit_and_wait(BATCH), copies the
 * completions out with io_uring_peek_batch_cqe + io_uring_cq_advance (liburing's
 * counterpart of copy_cqes), and repeats until OPS NOPs have completed.
 * Build: gcc -O2 -g bench/nop_liburing.c -o nop_liburing -luring
 */
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	unsigned long ops = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	unsigned batch = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 32;
	struct io_uring ring;
	struct io_uring_cqe *cqes[4096];
	unsigned entries = 1;
	uint64_t sum = 0;
	struct timespec t0, t1;
	int ret;

	if (batch == 0 || batch > 4096 || ops % batch != 0) {
		fprintf(stderr, "BATCH must be 1..=4096 and divide OPS\n");
		return 1;
	}
	while (entries < batch)
		entries <<= 1;
	ret = io_uring_queue_init(entries, &ring, 0);
	if (ret < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long round = 0; round < ops / batch; round++) {
		unsigned got = 0;

		for (unsigned i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			if (!sqe) {
				fprintf(stderr, "SQ full\n");
				return 1;
			}
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, i);
		}
		ret = io_uring_submit_and_wait(&ring, batch);
		if (ret < 0) {
			fprintf(stderr, "submit_and_wait: %s\n", strerror(-ret));
			return 1;
		}
		while (got < batch) {
			unsigned n = io_uring_peek_batch_cqe(&ring, cqes, batch - got);

			if (n == 0) {
				struct io_uring_cqe *cqe;

				ret = io_uring_wait_cqe(&ring, &cqe);
				if (ret < 0) {
					fprintf(stderr, "wait_cqe: %s\n", strerror(-ret));
					return 1;
				}
				continue;
			}
			for (unsigned i = 0; i < n; i++)
				sum += cqes[i]->user_data;
			io_uring_cq_advance(&ring, n);
			got += n;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	__asm__ volatile("" : : "r"(sum));
	printf("liburing: %lu nops, batch %u: %.1f ns/op\n", ops, batch,
	       ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / ops);
	io_uring_queue_exit(&ring);
	return 0;
}
