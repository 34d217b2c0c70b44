// SPDX-License-Identifier: MIT
/*
 * pcapng: the blocks ringfsctl capture writes (pcapng.h).  A block is
 * type, total length, body, options (code, length, value padded to 4,
 * then opt_endofopt), total length again.
 */
#include <errno.h>
#include <string.h>

#include "pcapng.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_ISB 0x00000005u
#define BT_EPB 0x00000006u

#define OPT_END 0
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME 2
#define OPT_IF_DESCRIPTION 3
#define OPT_IF_TSRESOL 9
#define OPT_EPB_FLAGS 2
#define OPT_EPB_DROPCOUNT 4
#define OPT_ISB_IFRECV 4
#define OPT_ISB_IFDROP 5

/* a block's body and options, built here before it is written */
struct blk {
	uint8_t b[1024];
	size_t n;
	int err;
};

static uint32_t pad4(size_t n)
{
	return (uint32_t)((4 - (n & 3)) & 3);
}

static void put(struct blk *k, const void *p, size_t n)
{
	static const uint8_t zero[4];

	if (k->err || n + pad4(n) > sizeof(k->b) - k->n) {
		k->err = -EMSGSIZE;
		return;
	}
	memcpy(k->b + k->n, p, n);
	k->n += n;
	memcpy(k->b + k->n, zero, pad4(n));
	k->n += pad4(n);
}

static void put32(struct blk *k, uint32_t v)
{
	put(k, &v, 4);
}

static void opt(struct blk *k, uint16_t code, const void *p, size_t n)
{
	uint16_t h[2] = { code, (uint16_t)n };

	if (n > 0xffff) {
		k->err = -EMSGSIZE;
		return;
	}
	put(k, h, sizeof(h));
	if (n)
		put(k, p, n);
}

/* type, length, head (k), data (padded), options (o), length */
static int emit(FILE *f, uint32_t type, const struct blk *k, const void *data,
		uint32_t dlen, const struct blk *o)
{
	static const uint8_t zero[4];
	uint32_t total = 12 + (uint32_t)k->n + dlen + pad4(dlen) +
			 (o ? (uint32_t)o->n : 0);

	if (k->err || (o && o->err))
		return k->err ? k->err : o->err;
	if (fwrite(&type, 4, 1, f) != 1 || fwrite(&total, 4, 1, f) != 1 ||
	    fwrite(k->b, 1, k->n, f) != k->n ||
	    (dlen && fwrite(data, 1, dlen, f) != dlen) ||
	    fwrite(zero, 1, pad4(dlen), f) != pad4(dlen) ||
	    (o && fwrite(o->b, 1, o->n, f) != o->n) ||
	    fwrite(&total, 4, 1, f) != 1)
		return -EIO;
	return 0;
}

static void end_opts(struct blk *k)
{
	opt(k, OPT_END, NULL, 0);
}

int rfs_pcapng_shb(FILE *f, const char *appl)
{
	struct blk k = { .n = 0 };
	uint16_t ver[2] = { 1, 0 };
	int64_t seclen = -1;

	put32(&k, 0x1A2B3C4Du);
	put(&k, ver, sizeof(ver));
	put(&k, &seclen, sizeof(seclen));
	opt(&k, OPT_SHB_USERAPPL, appl, strlen(appl));
	end_opts(&k);
	return emit(f, BT_SHB, &k, NULL, 0, NULL);
}

int rfs_pcapng_idb(FILE *f, uint16_t linktype, uint32_t snaplen,
		   const char *name, const char *desc)
{
	struct blk k = { .n = 0 };
	uint16_t lt[2] = { linktype, 0 };
	uint8_t tsresol = 9;

	put(&k, lt, sizeof(lt));
	put32(&k, snaplen);
	opt(&k, OPT_IF_NAME, name, strlen(name));
	if (desc && *desc)
		opt(&k, OPT_IF_DESCRIPTION, desc, strlen(desc));
	opt(&k, OPT_IF_TSRESOL, &tsresol, 1);
	end_opts(&k);
	return emit(f, BT_IDB, &k, NULL, 0, NULL);
}

int rfs_pcapng_epb(FILE *f, uint32_t ifid, uint64_t ts_ns, const void *data,
		   uint32_t cap_len, uint32_t orig_len, uint32_t dir,
		   uint64_t drops)
{
	struct blk k = { .n = 0 }, o = { .n = 0 };

	put32(&k, ifid);
	put32(&k, (uint32_t)(ts_ns >> 32));
	put32(&k, (uint32_t)ts_ns);
	put32(&k, cap_len);
	put32(&k, orig_len);
	opt(&o, OPT_EPB_FLAGS, &dir, 4);
	if (drops)
		opt(&o, OPT_EPB_DROPCOUNT, &drops, 8);
	end_opts(&o);
	return emit(f, BT_EPB, &k, data, cap_len, &o);
}

int rfs_pcapng_isb(FILE *f, uint32_t ifid, uint64_t ts_ns, uint64_t recv,
		   uint64_t drop)
{
	struct blk k = { .n = 0 };

	put32(&k, ifid);
	put32(&k, (uint32_t)(ts_ns >> 32));
	put32(&k, (uint32_t)ts_ns);
	opt(&k, OPT_ISB_IFRECV, &recv, 8);
	opt(&k, OPT_ISB_IFDROP, &drop, 8);
	end_opts(&k);
	return emit(f, BT_ISB, &k, NULL, 0, NULL);
}
