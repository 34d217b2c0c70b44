// SPDX-License-Identifier: MIT
/*
 * The security suite: the real ringfsd, talked to with raw frames.
 *
 *   sec_test RINGFSD auth      key handshake: missing/wrong key, replay,
 *                              mutual proof, ATTACH bound to the session
 *   sec_test RINGFSD ro        a read-only export: every mutating op EROFS
 *   sec_test RINGFSD escape    "..", "/", symlinks out, forged / stale /
 *                              foreign handles, cross-export link/rename
 *   sec_test RINGFSD squash    root_squash, all_squash+anonuid/gid,
 *                              no_root_squash: owners in the backing dir;
 *                              the callers' supplementary groups under
 *                              each
 *   sec_test RINGFSD limits    setup timeout (silent, trickling), max
 *                              connections, max message size, nolocal
 *   sec_test probe HOST PORT EXPORT   HELLO once, print the status
 *                              (netns.sh runs it in another namespace)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "tlib.h"

static char tmp[200] = "/tmp/rfs-sectest-XXXXXX";
static const char *bin;
/*
 * RFS_SEC_GLUSTER_URL=gluster://HOST/VOLUME and RFS_SEC_GLUSTER_DIR (that
 * volume mounted by gluster's own client; tests/gluster/security.sh): the
 * escape case's exports are directories of the volume, served by the
 * gluster backend, and its files are made through that mount
 */
static const char *gl_url, *gl_dir;
static char st_base[] = "/tmp/rfs-sectest-st-XXXXXX";

static void path(char *out, size_t n, const char *rel)
{
	snprintf(out, n, "%s/%s", tmp, rel);
}

/* "NAME=" the export's path (a directory of tmp) ",OPTS" */
static void export_spec(char *out, size_t n, const char *name, const char *rel,
			const char *opts)
{
	if (gl_url)
		snprintf(out, n, "%s=%s/%s/%s%s", name, gl_url,
			 tmp + strlen(gl_dir) + 1, rel, opts);
	else
		snprintf(out, n, "%s=%s/%s%s", name, tmp, rel, opts);
}

/* the state directory st (local, even when tmp is on the volume) */
static void state_dir(char *out, size_t n, const char *st)
{
	char p[1100];

	snprintf(out, n, "%s/%s", gl_url ? st_base : tmp, st);
	snprintf(p, sizeof(p), "%s", out);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		t_die("mkdir %s: %s", p, strerror(errno));
}

static void mkdir_p(const char *rel, mode_t mode)
{
	char p[512];

	path(p, sizeof(p), rel);
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		t_die("mkdir %s: %s", p, strerror(errno));
	chmod(p, mode);
}

static void write_file(const char *rel, const void *data, size_t len,
		       mode_t mode)
{
	char p[512];
	int fd;

	path(p, sizeof(p), rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		t_die("write %s: %s", p, strerror(errno));
	fchmod(fd, mode);
	close(fd);
}

static void cleanup(void)
{
	t_rm_tree(tmp);
	if (gl_url)
		t_rm_tree(st_base);
}

static struct t_conn conn(struct t_srv *s)
{
	struct t_conn c = { .fd = t_connect_tcp(s->host, s->port) };

	return c;
}

static void stop(struct t_srv *s)
{
	T_CHECK(t_srv_stop(s) == 0, "ringfsd did not exit 0 on SIGTERM");
}

/* ---- auth --------------------------------------------------------------- */

static void case_auth(void)
{
	struct rfs_auth_key key, wrong;
	char keyf[512], key2f[512], st[512], exp[600], errb[256];
	uint8_t rnd[48], tok[16], zero[16] = { 0 };
	uint8_t prove[512], cn[RFS_AUTH_NONCE];
	uint32_t prove_len, len;
	struct t_conn a, b;
	struct t_srv s;
	int ret;

	mkdir_p("a", 0755);
	mkdir_p("st", 0700);
	rfs_auth_random(rnd, sizeof(rnd));
	write_file("key", rnd, sizeof(rnd), 0600);
	rfs_auth_random(rnd, sizeof(rnd));
	write_file("key2", rnd, sizeof(rnd), 0600);
	path(keyf, sizeof(keyf), "key");
	path(key2f, sizeof(key2f), "key2");
	path(st, sizeof(st), "st");
	snprintf(exp, sizeof(exp), "a=%s/a", tmp);
	if (rfs_auth_key_load(keyf, &key, errb, sizeof(errb)) ||
	    rfs_auth_key_load(key2f, &wrong, errb, sizeof(errb)))
		t_die("%s", errb);

	/* a key file others can read is refused, with a clear reason */
	write_file("keyopen", rnd, sizeof(rnd), 0644);
	path(errb, sizeof(errb), "keyopen");
	T_CHECK(rfs_auth_key_load(errb, &wrong, errb, sizeof(errb)) == -EPERM &&
			strstr(errb, "chmod 600"),
		"group-readable key accepted: %s", errb);
	if (rfs_auth_key_load(key2f, &wrong, errb, sizeof(errb)))
		t_die("%s", errb);

	t_srv_start(&s, bin,
		    (const char *const[]){ "--listen", "127.0.0.1:0",
					   "--export", exp, "--state-dir", st,
					   "--key-file", keyf, "--transport",
					   "tcp", NULL });

	/* no AUTH at all: HELLO refused, ENOKEY, closed */
	a = conn(&s);
	ret = t_hello(&a, "a");
	T_CHECK(ret == -ENOKEY, "HELLO without AUTH: %d", ret);
	T_CHECK(t_closed(a.fd), "not closed after HELLO without AUTH");
	close(a.fd);

	/* other ops before AUTH: refused */
	a = conn(&s);
	t_req(&a, RFS_OP_STATS);
	ret = t_call(&a);
	T_CHECK(ret == -EACCES, "STATS before AUTH: %d", ret);
	close(a.fd);

	/* wrong key: PROVE rejected, closed */
	a = conn(&s);
	ret = t_auth(&a, &wrong, "a", NULL);
	T_CHECK(ret == -EKEYREJECTED, "wrong key: %d", ret);
	T_CHECK(t_closed(a.fd), "not closed after a wrong key");
	close(a.fd);

	/* PROVE without CHALLENGE */
	a = conn(&s);
	{
		struct rfs_auth_req *q;
		struct rfs_mb *m = t_req(&a, RFS_OP_AUTH);

		q = rfs_mb_put(m, sizeof(*q));
		q->step = RFS_AUTH_PROVE;
		ret = t_call(&a);
	}
	T_CHECK(ret < 0, "PROVE without CHALLENGE accepted");
	T_CHECK(t_closed(a.fd), "not closed after PROVE without CHALLENGE");
	close(a.fd);

	/* right key: mutual proof checks out, HELLO works, no token sent */
	a = conn(&s);
	ret = t_auth(&a, &key, "a", tok);
	T_CHECK(ret == 0, "right key: %d", ret);
	/* keep this connection's PROVE frame for the replay below */
	{
		const void *f = t_sent(&prove_len);

		memcpy(prove, f, prove_len);
	}
	ret = t_hello(&a, "a");
	T_CHECK(ret == 0, "HELLO after AUTH: %d", ret);
	T_CHECK(!memcmp(a.token, zero, 16), "HELLO reply carries the token");
	t_req(&a, RFS_OP_PING);
	T_CHECK(t_call(&a) == 0, "PING on the authenticated session");

	/* ATTACH: needs its own AUTH, and the derived token */
	b = conn(&s);
	ret = t_attach(&b, a.session, tok);
	T_CHECK(ret == -ENOKEY, "ATTACH without AUTH: %d", ret);
	close(b.fd);
	b = conn(&s);
	T_CHECK(t_auth(&b, &key, "a", NULL) == 0, "second AUTH");
	ret = t_attach(&b, a.session, zero);
	T_CHECK(ret < 0, "ATTACH with the (zero) token from the wire accepted");
	close(b.fd);
	b = conn(&s);
	T_CHECK(t_auth(&b, &key, "a", NULL) == 0, "third AUTH");
	ret = t_attach(&b, a.session, tok);
	T_CHECK(ret == 0, "ATTACH with the derived token: %d", ret);
	close(b.fd);

	/* replay: the same client nonce, then the recorded PROVE */
	memcpy(cn,
	       ((const struct rfs_auth_req *)(const void *)(prove +
							    RFS_HDR_SIZE))
		       ->nonce,
	       sizeof(cn));
	b = conn(&s);
	{
		struct rfs_auth_req *q;
		struct rfs_mb *m = t_req(&b, RFS_OP_AUTH);

		q = rfs_mb_put(m, sizeof(*q));
		q->step = RFS_AUTH_CHALLENGE;
		q->export_len = 1;
		memset(q->nonce, 0x11, sizeof(q->nonce));
		rfs_mb_put_bytes(m, "a", 1);
		T_CHECK(t_call(&b) == 0, "CHALLENGE");
	}
	(void)cn;
	t_send(b.fd, prove, prove_len);
	T_CHECK(t_closed(b.fd), "a replayed PROVE was accepted");
	close(b.fd);
	/* the replayed PROVE as the first frame of a connection */
	b = conn(&s);
	t_send(b.fd, prove, prove_len);
	T_CHECK(t_closed(b.fd), "a replayed PROVE alone was accepted");
	close(b.fd);
	/* a HELLO replayed on a new connection after a wrong-key AUTH */
	b = conn(&s);
	T_CHECK(t_auth(&b, &wrong, "a", NULL) == -EKEYREJECTED, "wrong key 2");
	close(b.fd);

	/* authenticated for one export, HELLO for another: refused */
	b = conn(&s);
	T_CHECK(t_auth(&b, &key, "zzz", NULL) == 0, "AUTH for export zzz");
	ret = t_hello(&b, "a");
	T_CHECK(ret == -EACCES, "HELLO for a other than AUTH's export: %d",
		ret);
	close(b.fd);

	close(a.fd);
	(void)len;
	stop(&s);

	/* a server without a key: the client's AUTH gets EOPNOTSUPP */
	t_srv_start(&s, bin,
		    (const char *const[]){ "--listen", "127.0.0.1:0",
					   "--export", exp, "--state-dir", st,
					   "--transport", "tcp", NULL });
	a = conn(&s);
	ret = t_auth(&a, &key, "a", NULL);
	T_CHECK(ret == -EOPNOTSUPP, "AUTH to a keyless server: %d", ret);
	close(a.fd);
	stop(&s);
}

/* ---- read-only export ----------------------------------------------------- */

static int ro_op(struct t_conn *c, uint16_t op, uint64_t root, uint64_t file,
		 uint64_t fh)
{
	struct rfs_mb *m = t_req(c, op);

	switch (op) {
	case RFS_OP_CREATE:
	case RFS_OP_MKDIR:
	case RFS_OP_MKNOD:
	case RFS_OP_SYMLINK: {
		struct rfs_make_req *q = rfs_mb_put(m, sizeof(*q));

		q->parent = root;
		q->mode = op == RFS_OP_MKDIR ? 0755 :
			  op == RFS_OP_MKNOD ? (S_IFIFO | 0644) :
					       0644;
		q->flags = op == RFS_OP_CREATE ? O_RDWR : 0;
		q->name_len = 3;
		q->target_len = op == RFS_OP_SYMLINK ? 1 : 0;
		rfs_mb_put_bytes(m, "new", 3);
		if (op == RFS_OP_SYMLINK)
			rfs_mb_put_bytes(m, "f", 1);
		break;
	}
	case RFS_OP_LINK: {
		struct rfs_link_req *q = rfs_mb_put(m, sizeof(*q));

		q->nodeid = file;
		q->newparent = root;
		q->name_len = 3;
		rfs_mb_put_bytes(m, "lnk", 3);
		break;
	}
	case RFS_OP_UNLINK:
	case RFS_OP_RMDIR: {
		struct rfs_name_req *q = rfs_mb_put(m, sizeof(*q));

		q->parent = root;
		q->name_len = op == RFS_OP_UNLINK ? 1 : 1;
		rfs_mb_put_bytes(m, op == RFS_OP_UNLINK ? "f" : "d", 1);
		break;
	}
	case RFS_OP_RENAME: {
		struct rfs_rename_req *q = rfs_mb_put(m, sizeof(*q));

		q->parent = root;
		q->newparent = root;
		q->name_len = 1;
		q->newname_len = 2;
		rfs_mb_put_bytes(m, "f", 1);
		rfs_mb_put_bytes(m, "f2", 2);
		break;
	}
	case RFS_OP_SETATTR: {
		struct rfs_setattr_req *q = rfs_mb_put(m, sizeof(*q));

		q->nodeid = file;
		q->valid = RFS_SA_MODE;
		q->mode = 0600;
		break;
	}
	case RFS_OP_WRITE: {
		struct rfs_io_req *q = rfs_mb_put(m, sizeof(*q));

		q->nodeid = file;
		q->fh = fh;
		q->size = 4;
		rfs_mb_put_bytes(m, "evil", 4);
		break;
	}
	case RFS_OP_SETXATTR:
	case RFS_OP_REMOVEXATTR: {
		struct rfs_xattr_req *q = rfs_mb_put(m, sizeof(*q));

		q->nodeid = file;
		q->name_len = 8;
		q->size = op == RFS_OP_SETXATTR ? 1 : 0;
		rfs_mb_put_bytes(m, "user.sec", 8);
		if (op == RFS_OP_SETXATTR)
			rfs_mb_put_bytes(m, "x", 1);
		break;
	}
	case RFS_OP_FALLOCATE: {
		struct rfs_fallocate_req *q = rfs_mb_put(m, sizeof(*q));

		q->nodeid = file;
		q->fh = fh;
		q->length = 4096;
		break;
	}
	case RFS_OP_COPY_FILE_RANGE: {
		struct rfs_copy_req *q = rfs_mb_put(m, sizeof(*q));

		q->nodeid_in = file;
		q->fh_in = fh;
		q->nodeid_out = file;
		q->fh_out = fh;
		q->off_out = 100;
		q->len = 1;
		break;
	}
	default:
		t_die("ro_op %u", op);
	}
	return t_call(c);
}

static void case_ro(void)
{
	static const uint16_t ops[] = {
		RFS_OP_CREATE,	  RFS_OP_MKDIR,
		RFS_OP_MKNOD,	  RFS_OP_SYMLINK,
		RFS_OP_LINK,	  RFS_OP_UNLINK,
		RFS_OP_RMDIR,	  RFS_OP_RENAME,
		RFS_OP_SETATTR,	  RFS_OP_WRITE,
		RFS_OP_SETXATTR,  RFS_OP_REMOVEXATTR,
		RFS_OP_FALLOCATE, RFS_OP_COPY_FILE_RANGE,
	};
	char st[512], exp[600], p[512];
	struct rfs_entry e;
	struct t_conn c;
	struct t_srv s;
	struct stat sb;
	uint64_t fh = 0;
	int ret;

	mkdir_p("r", 0777);
	mkdir_p("r/d", 0777);
	write_file("r/f", "data", 4, 0666);
	mkdir_p("st", 0700);
	path(st, sizeof(st), "st");
	snprintf(exp, sizeof(exp), "r=%s/r,ro,no_root_squash", tmp);
	t_srv_start(&s, bin,
		    (const char *const[]){ "--listen", "127.0.0.1:0",
					   "--export", exp, "--state-dir", st,
					   "--transport", "tcp", NULL });
	c = conn(&s);
	T_CHECK(t_hello(&c, "r") == 0, "HELLO ro");
	T_CHECK(t_lookup(&c, c.root, "f", &e, NULL) == 0, "lookup f");
	/* opening for writing (and truncating) is refused */
	ret = t_open(&c, e.nodeid, O_WRONLY, NULL);
	T_CHECK(ret == -EROFS, "OPEN O_WRONLY on ro: %d", ret);
	ret = t_open(&c, e.nodeid, O_RDWR, NULL);
	T_CHECK(ret == -EROFS, "OPEN O_RDWR on ro: %d", ret);
	ret = t_open(&c, e.nodeid, O_RDONLY | O_TRUNC, NULL);
	T_CHECK(ret == -EROFS, "OPEN O_TRUNC on ro: %d", ret);
	T_CHECK(t_open(&c, e.nodeid, O_RDONLY, &fh) == 0, "OPEN O_RDONLY");
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		ret = ro_op(&c, ops[i], c.root, e.nodeid, fh);
		T_CHECK(ret == -EROFS, "%s on a read-only export: %d",
			rfs_proto_op_name(ops[i]), ret);
	}
	/* nothing changed underneath */
	path(p, sizeof(p), "r/f");
	T_CHECK(stat(p, &sb) == 0 && sb.st_size == 4 &&
			(sb.st_mode & 07777) == 0666,
		"ro export's file changed");
	path(p, sizeof(p), "r/new");
	T_CHECK(access(p, F_OK) < 0, "ro export got a new file");
	close(c.fd);
	stop(&s);
}

/* ---- escapes -------------------------------------------------------------- */

static int name_op(struct t_conn *c, uint16_t op, uint64_t parent,
		   const char *name, uint32_t len)
{
	struct rfs_name_req *q;
	struct rfs_mb *m = t_req(c, op);

	q = rfs_mb_put(m, sizeof(*q));
	q->parent = parent;
	q->name_len = (uint16_t)len;
	rfs_mb_put_bytes(m, name, len);
	return t_call(c);
}

static void case_escape(void)
{
	char st[512], ea[600], eb[600], p[512];
	uint8_t h[RFS_HANDLE_MAX], hb[RFS_HANDLE_MAX], hg[RFS_HANDLE_MAX];
	struct rfs_entry e, eg, ed;
	struct t_conn c, d;
	struct t_srv s;
	int ret;

	mkdir_p("a", 0777);
	mkdir_p("b", 0777);
	mkdir_p("outside", 0777);
	write_file("outside/secret", "secret", 6, 0644);
	write_file("a/f", "in-a", 4, 0644);
	write_file("a/gone", "x", 1, 0644);
	write_file("b/g", "in-b", 4, 0644);
	path(p, sizeof(p), "a/out");
	if (symlink("../outside/secret", p) < 0)
		t_die("symlink: %s", strerror(errno));
	path(p, sizeof(p), "a/abs");
	{
		char target[512];

		path(target, sizeof(target), "outside");
		if (symlink(target, p) < 0)
			t_die("symlink: %s", strerror(errno));
	}
	state_dir(st, sizeof(st), "st");
	export_spec(ea, sizeof(ea), "a", "a", ",no_root_squash");
	export_spec(eb, sizeof(eb), "b", "b", ",no_root_squash");
	t_srv_start(&s, bin,
		    (const char *const[]){ "--listen", "127.0.0.1:0",
					   "--export", ea, "--export", eb,
					   "--state-dir", st, "--transport",
					   "tcp", NULL });
	c = conn(&s);
	T_CHECK(t_hello(&c, "a") == 0, "HELLO a");
	d = conn(&s);
	T_CHECK(t_hello(&d, "b") == 0, "HELLO b");

	/* names: "..", ".", "/" inside, NUL inside */
	T_CHECK(name_op(&c, RFS_OP_LOOKUP, c.root, "..", 2) == -EINVAL,
		"lookup ..");
	T_CHECK(name_op(&c, RFS_OP_LOOKUP, c.root, ".", 1) == -EINVAL,
		"lookup .");
	T_CHECK(name_op(&c, RFS_OP_LOOKUP, c.root, "../outside", 10) == -EINVAL,
		"lookup ../outside");
	T_CHECK(name_op(&c, RFS_OP_LOOKUP, c.root, "x/../../y", 9) == -EINVAL,
		"lookup with /");
	T_CHECK(name_op(&c, RFS_OP_LOOKUP, c.root, "f\0x", 3) == -EINVAL,
		"lookup with NUL");
	T_CHECK(name_op(&c, RFS_OP_UNLINK, c.root, "../outside/secret", 17) ==
			-EINVAL,
		"unlink ../outside/secret");
	ret = t_make(&c, RFS_OP_MKDIR, c.root, "..", 0755, NULL, NULL, NULL);
	T_CHECK(ret == -EINVAL, "mkdir ..: %d", ret);

	/* symlinks pointing out are never followed */
	T_CHECK(t_lookup(&c, c.root, "out", &e, NULL) == 0, "lookup out");
	T_CHECK(S_ISLNK(e.attr.mode), "symlink looked up as %o", e.attr.mode);
	ret = t_open(&c, e.nodeid, O_RDONLY, NULL);
	T_CHECK(ret < 0, "OPEN through a symlink out of the export worked");
	T_CHECK(t_lookup(&c, c.root, "abs", &e, NULL) == 0, "lookup abs");
	/* a name in a non-directory: ENOTDIR, as lookup(2) answers; never
	 * passed to the backend (a gluster volume may not answer it) */
	ret = name_op(&c, RFS_OP_LOOKUP, e.nodeid, "secret", 6);
	T_CHECK(ret == -ENOTDIR, "LOOKUP under a symlink to outside: %d", ret);
	ret = t_make(&c, RFS_OP_MKDIR, e.nodeid, "d", 0755, NULL, NULL, NULL);
	T_CHECK(ret == -ENOTDIR, "MKDIR under a symlink to outside: %d", ret);
	ret = name_op(&c, RFS_OP_UNLINK, e.nodeid, "secret", 6);
	T_CHECK(ret == -ENOTDIR, "UNLINK under a symlink to outside: %d", ret);
	{
		struct rfs_open_req *q;
		struct rfs_mb *m = t_req(&c, RFS_OP_OPENDIR);

		q = rfs_mb_put(m, sizeof(*q));
		q->nodeid = e.nodeid;
		ret = t_call(&c);
		T_CHECK(ret < 0, "OPENDIR on a symlink to outside worked");
	}
	/* a symlink made through the server stays a symlink */
	ret = t_make(&c, RFS_OP_SYMLINK, c.root, "mine", 0777, "/etc/passwd",
		     &e, NULL);
	T_CHECK(ret == 0, "SYMLINK: %d", ret);
	if (!ret)
		T_CHECK(t_open(&c, e.nodeid, O_RDONLY, NULL) < 0,
			"OPEN followed a client-made symlink to /etc/passwd");

	/* forged handles: every byte flipped in turn, never accepted */
	T_CHECK(t_lookup(&c, c.root, "f", &e, h) == 0, "lookup f");
	for (unsigned i = 0; i < e.handle_len; i++) {
		memcpy(hg, h, e.handle_len);
		hg[i] ^= 0x40;
		ret = t_resolve(&c, e.nodeid, hg, e.handle_len);
		T_CHECK(ret == -ESTALE, "forged handle (byte %u): %d", i, ret);
	}
	ret = t_resolve(&c, e.nodeid ^ 1, h, e.handle_len);
	T_CHECK(ret == -ESTALE, "handle under another node id: %d", ret);
	T_CHECK(t_resolve(&c, e.nodeid, h, e.handle_len) == 0,
		"the real handle is refused");
	/* a node id nobody handed out */
	ret = t_open(&c, 0x1234567890abcdefull, O_RDONLY, NULL);
	T_CHECK(ret == -ESTALE, "made-up node id: %d", ret);

	/* a handle (and node) from another export */
	T_CHECK(t_lookup(&d, d.root, "g", &eg, hb) == 0, "lookup g in b");
	ret = t_resolve(&c, eg.nodeid, hb, eg.handle_len);
	T_CHECK(ret == -ESTALE, "b's handle on a's session: %d", ret);
	ret = t_open(&c, eg.nodeid, O_RDONLY, NULL);
	T_CHECK(ret == -ESTALE, "b's node on a's session: %d", ret);
	/* link / rename across exports */
	{
		struct rfs_link_req *q;
		struct rfs_mb *m = t_req(&c, RFS_OP_LINK);

		q = rfs_mb_put(m, sizeof(*q));
		q->nodeid = e.nodeid;
		q->newparent = d.root;
		q->name_len = 4;
		rfs_mb_put_bytes(m, "stol", 4);
		ret = t_call(&c);
		T_CHECK(ret == -ESTALE || ret == -EXDEV,
			"LINK into another export: %d", ret);
		m = t_req(&d, RFS_OP_LINK);
		q = rfs_mb_put(m, sizeof(*q));
		q->nodeid = e.nodeid; /* a's file, b's session */
		q->newparent = d.root;
		q->name_len = 4;
		rfs_mb_put_bytes(m, "stol", 4);
		ret = t_call(&d);
		T_CHECK(ret == -ESTALE || ret == -EXDEV,
			"LINK of a's file from b's session: %d", ret);
	}
	{
		struct rfs_rename_req *q;
		struct rfs_mb *m = t_req(&c, RFS_OP_RENAME);

		q = rfs_mb_put(m, sizeof(*q));
		q->parent = c.root;
		q->newparent = d.root;
		q->name_len = 1;
		q->newname_len = 5;
		rfs_mb_put_bytes(m, "f", 1);
		rfs_mb_put_bytes(m, "moved", 5);
		ret = t_call(&c);
		T_CHECK(ret == -ESTALE || ret == -EXDEV,
			"RENAME into another export: %d", ret);
	}
	path(p, sizeof(p), "b/stol");
	T_CHECK(access(p, F_OK) < 0, "a link appeared in export b");
	path(p, sizeof(p), "b/moved");
	T_CHECK(access(p, F_OK) < 0, "a rename landed in export b");

	/* a stale handle: the file is gone */
	T_CHECK(t_lookup(&c, c.root, "gone", &ed, hg) == 0, "lookup gone");
	path(p, sizeof(p), "a/gone");
	unlink(p);
	ret = t_resolve(&c, ed.nodeid, hg, ed.handle_len);
	T_CHECK(ret == -ESTALE || ret == 0, "stale handle: %d", ret);
	if (ret == 0) {
		/* the node is still cached: the server must see it is gone */
		struct rfs_node_req *q;
		struct rfs_mb *m = t_req(&c, RFS_OP_GETATTR);

		q = rfs_mb_put(m, sizeof(*q));
		q->nodeid = ed.nodeid;
		ret = t_call(&c);
		/* gluster: the GFID is gone with the file */
		T_CHECK((ret == 0 &&
			 ((const struct rfs_attr *)t_rp())->nlink == 0) ||
				(gl_url && (ret == -ENOENT || ret == -ESTALE)),
			"deleted file still has links: %d", ret);
	}
	close(c.fd);
	close(d.fd);
	stop(&s);
	/* a server restarted with another state dir (another handle key):
	 * old handles are stale */
	state_dir(st, sizeof(st), "st2");
	t_srv_start(&s, bin,
		    (const char *const[]){ "--listen", "127.0.0.1:0",
					   "--export", ea, "--export", eb,
					   "--state-dir", st, "--transport",
					   "tcp", NULL });
	c = conn(&s);
	T_CHECK(t_hello(&c, "a") == 0, "HELLO a again");
	ret = t_resolve(&c, e.nodeid, h, e.handle_len);
	T_CHECK(ret == -ESTALE, "handle from another server key: %d", ret);
	close(c.fd);
	stop(&s);
}

/* ---- squash ----------------------------------------------------------- */

static void owner_is(const char *rel, uid_t uid, gid_t gid, const char *what)
{
	char p[512];
	struct stat sb;

	path(p, sizeof(p), rel);
	if (stat(p, &sb) < 0) {
		T_CHECK(0, "%s: %s missing: %s", what, p, strerror(errno));
		return;
	}
	T_CHECK(sb.st_uid == uid && sb.st_gid == gid,
		"%s: %s owned by %u:%u, want %u:%u", what, rel,
		(unsigned)sb.st_uid, (unsigned)sb.st_gid, (unsigned)uid,
		(unsigned)gid);
}

/*
 * CREATE name in the directory dir of export exp as uid:gid with the
 * supplementary groups g[0..n): the status.
 */
static int create_as(struct t_srv *s, const char *exp, const char *dir,
		     const char *name, uint32_t uid, uint32_t gid,
		     const uint32_t *g, uint32_t n)
{
	struct rfs_entry e;
	struct t_conn c = conn(s);
	int ret;

	T_CHECK(t_hello(&c, exp) == 0, "HELLO %s", exp);
	c.uid = 0, c.gid = 0;
	ret = t_lookup(&c, c.root, dir, &e, NULL);
	T_CHECK(ret == 0, "lookup %s/%s: %d", exp, dir, ret);
	c.uid = uid, c.gid = gid;
	c.groups = g, c.ngroups = n;
	ret = t_make(&c, RFS_OP_CREATE, e.nodeid, name, 0644, NULL, NULL, NULL);
	close(c.fd);
	return ret;
}

/*
 * The directories X/g (root:5000), X/g0 (root:0) and as/ga (root:4321,
 * the anongid) are mode 0070: only their group gets in, so a CREATE in
 * them tells which groups the server gave the caller.
 */
static void squash_groups(struct t_srv *s)
{
	static const uint32_t g5000[] = { 5000 }, g0[] = { 7, 0 };
	static const char *const xs[] = { "rs", "as", "ns" };
	char rel[64], p[512];
	int ret;

	for (unsigned i = 0; i < 3; i++) {
		snprintf(rel, sizeof(rel), "%s/g", xs[i]);
		mkdir_p(rel, 0070);
		path(p, sizeof(p), rel);
		if (chown(p, 0, 5000) < 0)
			t_die("chown %s: %s", p, strerror(errno));
		snprintf(rel, sizeof(rel), "%s/g0", xs[i]);
		mkdir_p(rel, 0070);
	}
	mkdir_p("as/ga", 0070);
	path(p, sizeof(p), "as/ga");
	if (chown(p, 0, 4321) < 0)
		t_die("chown %s: %s", p, strerror(errno));

	/* no_root_squash: the list as sent */
	ret = create_as(s, "ns", "g", "a", 2000, 3000, g5000, 1);
	T_CHECK(ret == 0, "no_root_squash, group 5000 in the list: %d", ret);
	owner_is("ns/g/a", 2000, 3000, "created through a supplementary group");
	ret = create_as(s, "ns", "g", "b", 2000, 3000, NULL, 0);
	T_CHECK(ret == -EACCES, "no_root_squash, no groups: %d", ret);
	ret = create_as(s, "ns", "g0", "a", 2000, 3000, g0, 2);
	T_CHECK(ret == 0, "no_root_squash, group 0 in the list: %d", ret);
	/* root_squash: a user's list, with 0 as anongid; root's: none */
	ret = create_as(s, "rs", "g", "a", 1000, 1000, g5000, 1);
	T_CHECK(ret == 0, "root_squash, user, group 5000: %d", ret);
	ret = create_as(s, "rs", "g0", "a", 1000, 1000, g0, 2);
	T_CHECK(ret == -EACCES, "root_squash, user, group 0 squashed: %d", ret);
	ret = create_as(s, "rs", "g", "b", 0, 0, g5000, 1);
	T_CHECK(ret == -EACCES, "root_squash, root's groups dropped: %d", ret);
	/* all_squash: none; anongid is the primary group */
	ret = create_as(s, "as", "g", "a", 1000, 1000, g5000, 1);
	T_CHECK(ret == -EACCES, "all_squash, groups dropped: %d", ret);
	ret = create_as(s, "as", "ga", "a", 1000, 1000, g5000, 1);
	T_CHECK(ret == 0, "all_squash, anongid: %d", ret);

	/* one connection, the list changing from request to request */
	{
		struct t_conn c = conn(s);
		struct rfs_entry e;

		T_CHECK(t_hello(&c, "ns") == 0, "HELLO ns");
		T_CHECK(t_lookup(&c, c.root, "g", &e, NULL) == 0, "lookup g");
		c.uid = 2000, c.gid = 3000;
		for (int i = 0; i < 6; i++) {
			snprintf(rel, sizeof(rel), "c%d", i);
			c.groups = i % 2 ? NULL : g5000;
			c.ngroups = i % 2 ? 0 : 1;
			ret = t_make(&c, RFS_OP_CREATE, e.nodeid, rel, 0644,
				     NULL, NULL, NULL);
			T_CHECK(ret == (i % 2 ? -EACCES : 0),
				"request %d, %u groups: %d", i, c.ngroups, ret);
		}
		close(c.fd);
	}
}

static void case_squash(void)
{
	char st[512], e1[600], e2[600], e3[600];
	struct t_conn c;
	struct t_srv s;
	int ret;

	if (geteuid() != 0) {
		printf("SKIP: squash needs root (setfsuid on the server)\n");
		exit(77);
	}
	mkdir_p("rs", 0777);
	mkdir_p("as", 0777);
	mkdir_p("ns", 0777);
	mkdir_p("st", 0700);
	path(st, sizeof(st), "st");
	snprintf(e1, sizeof(e1), "rs=%s/rs", tmp); /* root_squash default */
	snprintf(e2, sizeof(e2),
		 "as=%s/as,all_squash,anonuid=1234,"
		 "anongid=4321",
		 tmp);
	snprintf(e3, sizeof(e3), "ns=%s/ns,no_root_squash", tmp);
	t_srv_start(&s, bin,
		    (const char *const[]){ "--listen", "127.0.0.1:0",
					   "--export", e1, "--export", e2,
					   "--export", e3, "--state-dir", st,
					   "--transport", "tcp", NULL });

	c = conn(&s);
	T_CHECK(t_hello(&c, "rs") == 0, "HELLO rs");
	c.uid = 0, c.gid = 0;
	ret = t_make(&c, RFS_OP_CREATE, c.root, "byroot", 0644, NULL, NULL,
		     NULL);
	T_CHECK(ret == 0, "root_squash create as root: %d", ret);
	owner_is("rs/byroot", 65534, 65534, "root_squash, uid 0");
	c.uid = 1000, c.gid = 1000;
	ret = t_make(&c, RFS_OP_MKDIR, c.root, "byuser", 0755, NULL, NULL,
		     NULL);
	T_CHECK(ret == 0, "root_squash mkdir as 1000: %d", ret);
	owner_is("rs/byuser", 1000, 1000, "root_squash, uid 1000");
	close(c.fd);

	c = conn(&s);
	T_CHECK(t_hello(&c, "as") == 0, "HELLO as");
	c.uid = 1000, c.gid = 1000;
	ret = t_make(&c, RFS_OP_CREATE, c.root, "byuser", 0644, NULL, NULL,
		     NULL);
	T_CHECK(ret == 0, "all_squash create as 1000: %d", ret);
	owner_is("as/byuser", 1234, 4321, "all_squash, uid 1000");
	c.uid = 0, c.gid = 0;
	ret = t_make(&c, RFS_OP_SYMLINK, c.root, "byroot", 0777, "t", NULL,
		     NULL);
	T_CHECK(ret == 0, "all_squash symlink as root: %d", ret);
	{
		char p[512];
		struct stat sb;

		path(p, sizeof(p), "as/byroot");
		T_CHECK(lstat(p, &sb) == 0 && sb.st_uid == 1234 &&
				sb.st_gid == 4321,
			"all_squash symlink owner");
	}
	close(c.fd);

	c = conn(&s);
	T_CHECK(t_hello(&c, "ns") == 0, "HELLO ns");
	c.uid = 0, c.gid = 0;
	ret = t_make(&c, RFS_OP_CREATE, c.root, "byroot", 0644, NULL, NULL,
		     NULL);
	T_CHECK(ret == 0, "no_root_squash create as root: %d", ret);
	owner_is("ns/byroot", 0, 0, "no_root_squash, uid 0");
	c.uid = 2000, c.gid = 3000;
	ret = t_make(&c, RFS_OP_MKNOD, c.root, "fifo", S_IFIFO | 0644, NULL,
		     NULL, NULL);
	T_CHECK(ret == 0, "no_root_squash mknod as 2000: %d", ret);
	owner_is("ns/fifo", 2000, 3000, "no_root_squash, uid 2000");
	/* squashed root cannot chown to root */
	close(c.fd);
	c = conn(&s);
	T_CHECK(t_hello(&c, "rs") == 0, "HELLO rs 2");
	c.uid = 0, c.gid = 0;
	{
		struct rfs_entry e;
		struct rfs_setattr_req *q;
		struct rfs_mb *m;

		T_CHECK(t_lookup(&c, c.root, "byuser", &e, NULL) == 0,
			"lookup");
		m = t_req(&c, RFS_OP_SETATTR);
		q = rfs_mb_put(m, sizeof(*q));
		q->nodeid = e.nodeid;
		q->valid = RFS_SA_UID | RFS_SA_GID;
		ret = t_call(&c);
		T_CHECK(ret == -EPERM, "squashed root chown to 0: %d", ret);
		owner_is("rs/byuser", 1000, 1000, "after a refused chown");
	}
	close(c.fd);
	squash_groups(&s);
	stop(&s);
}

/* ---- limits -------------------------------------------------------------- */

static void case_limits(void)
{
	char st[512], ea[600], eb[600], sock[512];
	struct t_conn c, idle[3];
	struct t_srv s;
	long long t0;
	int fd, ret;

	mkdir_p("a", 0777);
	mkdir_p("st", 0700);
	path(st, sizeof(st), "st");
	path(sock, sizeof(sock), "sock");
	snprintf(ea, sizeof(ea), "a=%s/a", tmp);
	snprintf(eb, sizeof(eb), "b=%s/a,nolocal", tmp);
	t_srv_start(&s, bin,
		    (const char *const[]){ "--listen",
					   "127.0.0.1:0",
					   "--listen-unix",
					   sock,
					   "--export",
					   ea,
					   "--export",
					   eb,
					   "--state-dir",
					   st,
					   "--transport",
					   "tcp",
					   "--setup-timeout",
					   "1",
					   "--max-connections",
					   "4",
					   "--max-msg",
					   "65536",
					   "--max-inflight",
					   "8",
					   NULL });

	/* silent peer: dropped after about a second */
	t0 = t_mono_ms();
	fd = t_connect_tcp(s.host, s.port);
	T_CHECK(t_closed(fd), "a silent peer was not dropped");
	T_CHECK(t_mono_ms() - t0 < 5000, "silent peer dropped after %lld ms",
		t_mono_ms() - t0);
	close(fd);

	/* trickling peer: a header's worth, one byte at a time, slowly */
	{
		static const uint8_t hdr[RFS_HDR_SIZE] = { 'R', 'F', 'N', 'G' };
		bool closed = false;

		t0 = t_mono_ms();
		fd = t_connect_tcp(s.host, s.port);
		for (unsigned i = 0; i < RFS_HDR_SIZE && !closed; i++) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			t_send(fd, hdr + i, 1);
			/* waiting for the server's close is the pacing */
			if (poll(&p, 1, 200) > 0)
				closed = true;
		}
		T_CHECK(closed || t_closed(fd), "a trickling peer was not "
						"dropped");
		T_CHECK(t_mono_ms() - t0 < 5000,
			"trickler dropped after %lld ms", t_mono_ms() - t0);
		close(fd);
	}

	/* HELLO'd connections stay past the setup timeout */
	c = conn(&s);
	T_CHECK(t_hello(&c, "a") == 0, "HELLO");

	/* max-connections 4: c + 3 idle ones fill it, the 5th is refused */
	for (unsigned i = 0; i < 3; i++) {
		idle[i] = conn(&s);
		T_CHECK(t_hello(&idle[i], "a") == 0, "HELLO %u", i);
	}
	fd = t_connect_tcp(s.host, s.port);
	t0 = t_mono_ms();
	T_CHECK(t_closed(fd), "connection over max-connections kept");
	T_CHECK(t_mono_ms() - t0 < 900, "refusal took %lld ms (not immediate)",
		t_mono_ms() - t0);
	close(fd);
	t_req(&c, RFS_OP_PING);
	T_CHECK(t_call(&c) == 0, "existing connection broken by the refusal");
	for (unsigned i = 0; i < 3; i++)
		close(idle[i].fd);

	/* a client that never collects its replies is disconnected */
	{
		struct t_conn g = { .fd = -1 };
		long long until = t_mono_ms() + 5000;
		uint32_t len;
		const void *f;
		uint8_t *copy;
		int hret = -1;

		/*
		 * The server counts the three closed connections down on
		 * their own threads: retry (bounded) until a new one is let
		 * in, instead of racing them.
		 */
		while (t_mono_ms() < until) {
			g = conn(&s);
			hret = t_hello(&g, "a");
			if (hret == 0)
				break;
			close(g.fd);
		}
		T_CHECK(hret == 0, "HELLO greedy");
		{
			struct rfs_mb *m = t_req(&g, RFS_OP_PING);

			rfs_mb_put(m, 60000);
			len = (uint32_t)rfs_mb_finish(m, g.csum);
		}
		f = t_sent(&len); /* the frame just built */
		len = RFS_HDR_SIZE + 60000;
		copy = malloc(len);
		if (!copy)
			t_die("malloc");
		memcpy(copy, f, len);
		/* 2000 x 60 kB unread: far beyond any socket buffer */
		for (unsigned i = 0; i < 2000; i++)
			t_send(g.fd, copy, len);
		free(copy);
		T_CHECK(t_closed(g.fd), "a client not reading its replies was "
					"kept (max-inflight)");
		close(g.fd);
	}

	/* a frame over --max-msg closes the connection */
	{
		struct rfs_mb *m = t_req(&c, RFS_OP_PING);
		uint8_t *big = rfs_mb_put(m, 60000);

		(void)big;
		ret = t_call(&c);
		T_CHECK(ret == -EPROTO || ret == 0, "PING 60000: %d", ret);
	}
	{
		static _Alignas(8) uint8_t frame[RFS_HDR_SIZE];
		struct rfs_hdr *h = (struct rfs_hdr *)(void *)frame;

		h->magic = RFS_MAGIC;
		h->major = RFS_PROTO_MAJOR;
		h->minor = RFS_PROTO_MINOR;
		h->opcode = RFS_OP_PING;
		h->len = 65536;
		h->id = 7;
		t_send(c.fd, frame, sizeof(frame));
		T_CHECK(t_closed(c.fd), "a frame over max-msg was accepted");
	}
	close(c.fd);

	/* nolocal: Unix-socket peers refused on b, allowed on a */
	c.fd = t_connect_unix(sock);
	ret = t_hello(&c, "b");
	T_CHECK(ret == -EACCES, "nolocal export over a Unix socket: %d", ret);
	close(c.fd);
	memset(&c, 0, sizeof(c));
	c.fd = t_connect_unix(sock);
	ret = t_hello(&c, "a");
	T_CHECK(ret == 0, "export a over a Unix socket: %d", ret);
	close(c.fd);
	stop(&s);
}

/* ---- probe (for netns.sh) --------------------------------------------- */

static int probe(const char *host, const char *port, const char *exp)
{
	struct t_conn c = { .fd = t_connect_tcp(host, (unsigned)atoi(port)) };
	int ret = t_hello(&c, exp);

	printf("%d\n", ret);
	close(c.fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *what;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "probe"))
		return probe(argv[2], argv[3], argv[4]);
	if (argc != 3) {
		fprintf(stderr,
			"usage: sec_test RINGFSD auth|ro|escape|"
			"squash|limits\n       sec_test probe HOST PORT "
			"EXPORT\n");
		return 2;
	}
	bin = argv[1];
	what = argv[2];
	if (rfs_auth_init())
		t_die("libsodium init failed");
	gl_url = getenv("RFS_SEC_GLUSTER_URL");
	gl_dir = getenv("RFS_SEC_GLUSTER_DIR");
	if (gl_url && gl_dir) {
		if (strlen(gl_dir) + 20 >= sizeof(tmp))
			t_die("RFS_SEC_GLUSTER_DIR too long: %s", gl_dir);
		snprintf(tmp, sizeof(tmp), "%s/rfs-sectest-XXXXXX", gl_dir);
		if (!mkdtemp(st_base))
			t_die("mkdtemp: %s", strerror(errno));
	} else {
		gl_url = NULL;
	}
	if (!mkdtemp(tmp))
		t_die("mkdtemp: %s", strerror(errno));
	chmod(tmp, 0755);
	if (!strcmp(what, "auth"))
		case_auth();
	else if (!strcmp(what, "ro"))
		case_ro();
	else if (!strcmp(what, "escape"))
		case_escape();
	else if (!strcmp(what, "squash"))
		case_squash();
	else if (!strcmp(what, "limits"))
		case_limits();
	else
		t_die("unknown case %s", what);
	cleanup();
	if (t_failed) {
		fprintf(stderr, "sec_test %s: %d failures\n", what, t_failed);
		return 1;
	}
	printf("sec_test %s: ok\n", what);
	return 0;
}
