// SPDX-License-Identifier: MIT
/*
 * pipeline_test: the session fuzzer runs the server's real request
 * pipeline, so what the pipeline does is reachable from the fuzzer's
 * entry point.  Feeds LLVMFuzzerTestOneInput (fuzz_session.c) streams
 * built from the committed seeds and checks what the pipeline answered
 * (fuzz_session.h): the duplicate-request cache answers a replay without
 * running it again (also with RFS_FEAT_RESUME), RESUME of a session the
 * server never had fails cleanly, the version check refuses another major version (even
 * before HELLO) and closes, BYE reaches the session, and a request before
 * HELLO is refused.
 *
 *   fuzz_pipeline_test tests/fuzz/corpus-session
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_session.h"

static const char *corpus;
static int failures;

static _Alignas(8) uint8_t stream[1u << 16];
static uint32_t slen;
static _Alignas(8) uint8_t seed[1u << 16];

#define CHECK(cond, what)                                                  \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, \
				__LINE__, what, #cond);                    \
			failures++;                                        \
		}                                                          \
	} while (0)

/* read corpus seed `name` into seed[]; its length, 0 on failure */
static uint32_t load(const char *name)
{
	char p[512];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", corpus, name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "pipeline_test: %s: %s\n", p, strerror(errno));
		return 0;
	}
	n = read(fd, seed, sizeof(seed));
	close(fd);
	if (n < RFS_HDR_SIZE) {
		fprintf(stderr, "pipeline_test: %s: short or unreadable\n", p);
		return 0;
	}
	return (uint32_t)n;
}

/* the length of the frame at seed + off */
static uint32_t frame_len(uint32_t off)
{
	struct rfs_hdr h;

	/* seeds pack frames back to back: a header need not be aligned */
	memcpy(&h, seed + off, sizeof(h));
	return RFS_HDR_SIZE + h.len;
}

/*
 * Append the frame at seed + off to the stream with the opcode, payload
 * length, major version, id and flags given, from root (uid 0: the
 * read-write export does not squash it; the seeds' uid 1000 may not
 * write there).  Seed frames carry no checksum.
 */
static void add(uint32_t off, uint16_t op, uint32_t len, uint8_t major,
		uint64_t id, uint32_t flags)
{
	struct rfs_hdr h;

	memcpy(&h, seed + off, sizeof(h));
	h.opcode = op;
	h.len = len;
	h.major = major;
	h.id = id;
	h.flags |= flags;
	h.uid = 0;
	h.gid = 0;
	memcpy(stream + slen, &h, sizeof(h));
	memcpy(stream + slen + RFS_HDR_SIZE, seed + off + RFS_HDR_SIZE, len);
	slen += RFS_HDR_SIZE + len;
}

static void run(void)
{
	LLVMFuzzerTestOneInput(stream, slen);
	slen = 0;
}

/* reply i's header (a zeroed one when it was not sent) */
static struct rfs_hdr rep(unsigned i)
{
	struct rfs_hdr h = { 0 };

	if (i < rfs_fuzz_obs.nreplies && i < RFS_FUZZ_REPLIES)
		memcpy(&h, rfs_fuzz_obs.rep[i].frame, sizeof(h));
	return h;
}

static bool same_reply(unsigned a, unsigned b)
{
	const struct rfs_fuzz_reply *x = &rfs_fuzz_obs.rep[a];
	const struct rfs_fuzz_reply *y = &rfs_fuzz_obs.rep[b];
	uint32_t n = x->len < RFS_FUZZ_KEEP ? x->len : RFS_FUZZ_KEEP;

	return x->len == y->len && !memcmp(x->frame, y->frame, n);
}

int main(int argc, char **argv)
{
	const struct rfs_fuzz_obs *o = &rfs_fuzz_obs;
	uint32_t hello_len, mk, mk_len;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_pipeline_test CORPUS-DIR\n");
		return 2;
	}
	corpus = argv[1];
	/* w-mkdir: HELLO on the read-write export, MKDIR under its root */
	if (!load("w-mkdir"))
		return 1;
	hello_len = frame_len(0);
	mk = hello_len;
	mk_len = frame_len(mk) - RFS_HDR_SIZE;
#define HELLO() \
	add(0, RFS_OP_HELLO, hello_len - RFS_HDR_SIZE, RFS_PROTO_MAJOR, 1, 0)

	/* the duplicate-request cache: a replay is answered, not run */
	HELLO();
	add(mk, RFS_OP_MKDIR, mk_len, RFS_PROTO_MAJOR, 7, 0);
	add(mk, RFS_OP_MKDIR, mk_len, RFS_PROTO_MAJOR, 7, RFS_HF_REPLAY);
	add(mk, RFS_OP_MKDIR, mk_len, RFS_PROTO_MAJOR, 8, 0);
	run();
	CHECK(o->frames == 4 && o->nreplies == 4, "every request answered");
	CHECK(rep(0).status == 0, "HELLO");
	CHECK(rep(1).status == 0 && !o->rep[1].cached, "MKDIR ran");
	CHECK(rep(2).status == 0 && o->rep[2].cached,
	      "replayed MKDIR answered from the cache");
	CHECK(same_reply(1, 2), "the cached reply is the first one");
	/* the same MKDIR as a fresh request runs and finds the directory */
	CHECK(rep(3).status == -EEXIST, "a fresh MKDIR runs again");
	CHECK(!o->closed, "the connection stays");

	/*
	 * RFS_FEAT_RESUME: negotiated, a persisted MKDIR and its replay as
	 * above; RESUME of a session the server has no log of: -EBADSLT,
	 * and the connection stays
	 */
	HELLO();
	{
		uint64_t feat = RFS_FEAT_RESUME;
		struct rfs_hdr h = { .magic = RFS_MAGIC,
				     .opcode = RFS_OP_RESUME,
				     .major = RFS_PROTO_MAJOR,
				     .minor = RFS_PROTO_MINOR,
				     .len = sizeof(struct rfs_resume_req),
				     .id = 16 };
		struct rfs_resume_req q = { .session = 0x1234 };

		/* the HELLO request's features, its first field */
		memcpy(stream + RFS_HDR_SIZE, &feat, sizeof(feat));
		add(mk, RFS_OP_MKDIR, mk_len, RFS_PROTO_MAJOR, 14, 0);
		add(mk, RFS_OP_MKDIR, mk_len, RFS_PROTO_MAJOR, 14,
		    RFS_HF_REPLAY);
		memcpy(stream + slen, &h, sizeof(h));
		memcpy(stream + slen + RFS_HDR_SIZE, &q, sizeof(q));
		slen += RFS_HDR_SIZE + sizeof(q);
	}
	run();
	{
		struct rfs_hello_rep hr;

		memcpy(&hr, o->rep[0].frame + RFS_HDR_SIZE, sizeof(hr));
		CHECK(rep(0).status == 0 && (hr.features & RFS_FEAT_RESUME),
		      "HELLO: RFS_FEAT_RESUME negotiated");
	}
	CHECK(o->frames == 4 && o->nreplies == 4, "every request answered");
	/* (the name is there from the first case: -EEXIST, logged too) */
	CHECK(rep(1).status == -EEXIST && !o->rep[1].cached,
	      "persisted MKDIR ran");
	CHECK(o->rep[2].cached && same_reply(1, 2),
	      "its replay answered from the cache");
	CHECK(rep(3).status == -EBADSLT && rep(3).id == 16,
	      "RESUME of an unknown session: -EBADSLT");
	CHECK(!o->closed, "the connection stays");

	/* the version check: refused with our version, then closed */
	HELLO();
	add(mk, RFS_OP_MKDIR, mk_len, RFS_PROTO_MAJOR + 1, 9, 0);
	add(mk, RFS_OP_MKDIR, mk_len, RFS_PROTO_MAJOR, 10, 0);
	run();
	CHECK(o->frames == 2 && o->nreplies == 2, "nothing after it runs");
	CHECK(rep(1).status == -EPROTONOSUPPORT && rep(1).id == 9,
	      "another major version refused");
	CHECK(rep(1).major == RFS_PROTO_MAJOR &&
		      rep(1).minor == RFS_PROTO_MINOR,
	      "the reply names ours");
	CHECK(o->closed, "the connection closes");

	/* ... and it comes before the session gate */
	add(0, RFS_OP_HELLO, hello_len - RFS_HDR_SIZE, RFS_PROTO_MAJOR + 1, 1,
	    0);
	run();
	CHECK(o->nreplies == 1 && rep(0).status == -EPROTONOSUPPORT &&
		      o->closed,
	      "HELLO of another major version refused");

	/* BYE reaches the session (no grace period), then the end */
	HELLO();
	add(0, RFS_OP_BYE, 0, RFS_PROTO_MAJOR, 11, 0);
	add(mk, RFS_OP_MKDIR, mk_len, RFS_PROTO_MAJOR, 12, 0);
	run();
	CHECK(o->frames == 2 && o->nreplies == 2 && rep(1).status == 0 &&
		      rep(1).id == 11,
	      "BYE answered, nothing after it runs");
	CHECK(o->bye && o->closed, "the session was told BYE");

	/* the session gate: a request before HELLO is refused, closed */
	if (!load("before-hello"))
		return 1;
	add(0, RFS_OP_LOOKUP, frame_len(0) - RFS_HDR_SIZE, RFS_PROTO_MAJOR, 13,
	    0);
	run();
	CHECK(o->nreplies == 1 && rep(0).status == -EACCES && o->closed,
	      "LOOKUP before HELLO refused");

	if (failures)
		return 1;
	printf("pipeline_test: ok\n");
	return 0;
}
