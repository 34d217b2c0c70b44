// SPDX-License-Identifier: MIT
/*
 * test_capture: the capture region (common/capture.c) through its real
 * API, producer and reader in one process: records come out in order
 * with their bytes, the ring wraps (padding records), a full ring drops
 * and counts (per connection, and on the next record), snaplen cuts,
 * detach stops recording.  With a path argument it also writes a pcapng
 * file (common/pcapng.c) for tests/unit/pcapng_tshark.sh to read with
 * tshark.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "pcapng.h"
#include "ringfs_proto.h"
#include "xprt_impl.h"

static int fails;
#define CHECK(c, ...)                                                        \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			fails++;                                             \
		}                                                            \
	} while (0)

/* a connection as xprt.c sees one: the base and a description */
static const char *fake_desc(const struct rfs_conn *c)
{
	(void)c;
	return "tcp 127.0.0.1:7070->127.0.0.1:40112";
}

static const struct rfs_xprt_ops fake_ops = {
	.desc = { .name = "tcp" },
	.conn_desc = fake_desc,
};

static void frame(uint8_t *b, uint32_t len, uint32_t seq)
{
	struct rfs_hdr h = { .magic = RFS_MAGIC,
			     .opcode = RFS_OP_PING,
			     .major = 1,
			     .minor = 3,
			     .len = len - RFS_HDR_SIZE,
			     .id = seq };

	memcpy(b, &h, sizeof(h));
	for (uint32_t i = RFS_HDR_SIZE; i < len; i++)
		b[i] = (uint8_t)(seq + i);
}

static void test_ring(void)
{
	struct rfs_conn_base cb = { .ops = &fake_ops };
	struct rfs_conn *c = (struct rfs_conn *)(void *)&cb;
	struct rfs_cap_params p = { .snaplen = 2000, .ring_kib = 64 };
	struct rfs_cap_reader rd;
	struct rfs_cap_slot *sl;
	static uint8_t buf[4096];
	uint32_t sent = 0, got = 0, ring_used = UINT32_MAX;
	int fd, rc;

	CHECK(rfs_cap_attach(&p, &fd) == 0, "attach");
	CHECK(rfs_cap_attach(&p, &rc) == -EBUSY, "second attach not EBUSY");
	CHECK(rfs_cap_reader_open(&rd, fd) == 0, "reader_open");
	close(fd);
	CHECK(rd.r->snaplen == 2000, "snaplen %u", rd.r->snaplen);
	/* many rounds of ~40 KiB through a 64 KiB ring: it wraps */
	for (int round = 0; round < 20; round++) {
		uint64_t pos[RFS_CAP_RINGS];

		for (int k = 0; k < 12; k++, sent++) {
			uint32_t len = 48 + (sent * 977) % 4000;

			frame(buf, len, sent);
			rfs_cap_frame(c, buf, len,
				      sent % 2 ? RFS_CAP_IN : RFS_CAP_OUT);
		}
		for (uint32_t r = 0; r < rd.r->nrings; r++) {
			const struct rfs_cap_rec *rec;
			const uint8_t *data;
			bool bad;

			pos[r] = rfs_cap_reader_ring(&rd, r)->tail;
			while ((rec = rfs_cap_reader_peek(&rd, r, &pos[r],
							  &data, &bad))) {
				uint32_t len = 48 + (got * 977) % 4000;

				if (ring_used == UINT32_MAX)
					ring_used = r;
				CHECK(r == ring_used, "records in two rings");
				CHECK(rec->conn == 0, "slot %u", rec->conn);
				CHECK(rec->orig_len == len,
				      "frame %u: len %u, "
				      "want %u",
				      got, rec->orig_len, len);
				CHECK(rec->cap_len == (len < 2000 ? len : 2000),
				      "frame %u: cap_len %u", got,
				      rec->cap_len);
				CHECK(rec->flags == (got % 2 ? RFS_CAP_IN :
							       RFS_CAP_OUT),
				      "frame %u: dir %u", got, rec->flags);
				CHECK(rec->drops == 0, "frame %u: drops %u",
				      got, rec->drops);
				frame(buf, len, got);
				CHECK(!memcmp(data, buf, rec->cap_len),
				      "frame %u: bytes differ", got);
				got++;
			}
			CHECK(!bad, "ring %u damaged", r);
			rfs_cap_reader_consume(&rd, r, pos[r]);
		}
	}
	CHECK(got == sent, "read %u of %u frames", got, sent);
	sl = rfs_cap_reader_slot(&rd, 0);
	CHECK(sl && !strcmp(sl->name, "tcp:127.0.0.1:40112"), "name '%s'",
	      sl ? sl->name : "");
	CHECK(sl && sl->frames == sent && sl->drops == 0,
	      "slot frames %llu drops %llu", (unsigned long long)sl->frames,
	      (unsigned long long)sl->drops);

	/* nobody reads: the ring fills, frames are dropped and counted */
	{
		uint32_t before = sent, drops;
		const struct rfs_cap_rec *rec;
		const uint8_t *data;
		uint64_t pos;
		bool bad;

		for (int k = 0; k < 200; k++, sent++) {
			frame(buf, 1500, sent);
			rfs_cap_frame(c, buf, 1500, RFS_CAP_OUT);
		}
		drops = (uint32_t)sl->drops;
		CHECK(drops > 0 && sl->frames + drops == sent,
		      "full ring: %llu recorded, %u dropped of %u",
		      (unsigned long long)sl->frames, drops, sent);
		/* drain; the next frame carries the count */
		pos = rfs_cap_reader_ring(&rd, ring_used)->tail;
		while (rfs_cap_reader_peek(&rd, ring_used, &pos, &data, &bad))
			;
		rfs_cap_reader_consume(&rd, ring_used, pos);
		frame(buf, 100, sent);
		rfs_cap_frame(c, buf, 100, RFS_CAP_IN);
		rec = rfs_cap_reader_peek(&rd, ring_used, &pos, &data, &bad);
		CHECK(rec && rec->drops == drops,
		      "next record's drops %u, want %u", rec ? rec->drops : 0,
		      drops);
		(void)before;
	}

	rfs_cap_detach();
	CHECK(!rfs_cap_attached(), "still attached");
	{
		uint64_t f = sl->frames;

		/* the region stays readable; nothing more is recorded */
		rfs_cap_frame(c, buf, 100, RFS_CAP_IN);
		CHECK(sl->frames == f, "recorded after detach");
	}
	rfs_cap_reader_close(&rd);
	/* a new capture: the connection gets a slot in it */
	CHECK(rfs_cap_attach(&p, &fd) == 0, "re-attach");
	CHECK(rfs_cap_reader_open(&rd, fd) == 0, "reader_open 2");
	close(fd);
	rfs_cap_frame(c, buf, 100, RFS_CAP_IN);
	CHECK(rd.r->slots_used == 1, "slots_used %u", rd.r->slots_used);
	rfs_cap_detach();
	rfs_cap_reader_close(&rd);
}

/* a bad region is refused */
static void test_reader_checks(void)
{
	struct rfs_cap_reader rd;
	FILE *f = tmpfile();
	char junk[4096] = "not a region";

	CHECK(f && fwrite(junk, 1, sizeof(junk), f) == sizeof(junk) &&
		      !fflush(f),
	      "tmpfile");
	if (f) {
		CHECK(rfs_cap_reader_open(&rd, fileno(f)) == -EPROTO,
		      "junk region accepted");
		fclose(f);
	}
}

/* the file pcapng_tshark.sh checks */
static int write_pcapng(const char *path)
{
	FILE *f = fopen(path, "wb");
	static uint8_t b[300];
	int rc = 0;

	if (!f) {
		perror(path);
		return 1;
	}
	rc |= rfs_pcapng_shb(f, "test_capture");
	rc |= rfs_pcapng_idb(f, RFS_PCAPNG_LINKTYPE, 262144,
			     "tcp:127.0.0.1:40112", "conn 0: test");
	rc |= rfs_pcapng_idb(f, RFS_PCAPNG_LINKTYPE, 262144, "shm:pid1234",
			     "conn 1: test");
	frame(b, 100, 7);
	rc |= rfs_pcapng_epb(f, 0, 1700000000123456789ull, b, 100, 100,
			     RFS_PCAPNG_OUTBOUND, 0);
	frame(b, 300, 8);
	rc |= rfs_pcapng_epb(f, 1, 1700000000123456999ull, b, 61, 300,
			     RFS_PCAPNG_INBOUND, 5);
	rc |= rfs_pcapng_isb(f, 0, 1700000001000000000ull, 1, 0);
	rc |= rfs_pcapng_isb(f, 1, 1700000001000000000ull, 6, 5);
	if (fclose(f) || rc) {
		fprintf(stderr, "writing %s failed\n", path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return write_pcapng(argv[1]);
	test_ring();
	test_reader_checks();
	if (fails) {
		fprintf(stderr, "test_capture: %d failures\n", fails);
		return 1;
	}
	printf("test_capture: ok\n");
	return 0;
}
