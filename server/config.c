// SPDX-License-Identifier: MIT
/*
 * ringfsd configuration: exports from the command line and the config
 * file (see contrib/exports.conf for the format).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

struct rfs_srv_cfg rfs_cfg = {
	.sec = {
		.max_conns = RFS_DEFAULT_MAX_CONNS,
		.max_inflight = RFS_DEFAULT_MAX_INFLIGHT,
		.setup_timeout_ms = RFS_DEFAULT_SETUP_TIMEOUT_MS,
		.frame_timeout_ms = RFS_DEFAULT_FRAME_TIMEOUT_MS,
		.reply_timeout_ms = RFS_DEFAULT_REPLY_TIMEOUT_MS,
	},
};

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* "192.0.2.0/24", "2001:db8::/32", "10.1.2.3" (a host) */
static int parse_cidr(const char *s, struct rfs_net *n)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max;
	uint32_t prefix;

	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = 0;
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, host, n->addr) == 1) {
		n->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, n->addr) == 1) {
		n->family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	prefix = max;
	if (slash && (parse_u32(slash + 1, &prefix) || prefix > max))
		return -EINVAL;
	n->prefix = (uint8_t)prefix;
	return 0;
}

static int parse_nets_sep(struct rfs_export *e, const char *list,
			  const char *sep)
{
	char buf[512], *save = NULL, *tok;

	if (strlen(list) >= sizeof(buf) || !*list)
		return -EINVAL;
	strcpy(buf, list);
	e->acl.nnets = 0;
	for (tok = strtok_r(buf, sep, &save); tok;
	     tok = strtok_r(NULL, sep, &save)) {
		if (e->acl.nnets == RFS_EXPORT_NETS_MAX ||
		    parse_cidr(tok, &e->acl.nets[e->acl.nnets]))
			return -EINVAL;
		e->acl.nnets++;
	}
	return e->acl.nnets ? 0 : -EINVAL;
}

/*
 * net=CIDR[:CIDR...]: ':' separates IPv4 networks; a list with IPv6
 * networks (which contain ':') separates them with '+'.
 */
static int parse_nets(struct rfs_export *e, const char *list)
{
	if (!parse_nets_sep(e, list, "+:"))
		return 0;
	return parse_nets_sep(e, list, "+");
}

static bool net_match(const struct rfs_net *n, const uint8_t *a,
		      sa_family_t fam)
{
	unsigned bits = n->prefix, i;

	if (n->family != fam)
		return false;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (a[i] != n->addr[i])
			return false;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));

		if ((a[i] & mask) != (n->addr[i] & mask))
			return false;
	}
	return true;
}

bool rfs_export_allows(const struct rfs_export *e,
		       const struct sockaddr_storage *peer, socklen_t peerlen)
{
	const uint8_t *a;
	sa_family_t fam;

	if (peerlen && peer->ss_family == AF_UNIX)
		return !e->acl.nolocal;
	if (!e->acl.nnets)
		return true;
	if (!peerlen)
		return false;
	if (peer->ss_family == AF_INET) {
		a = (const uint8_t *)&(
			    (const struct sockaddr_in *)(const void *)peer)
			    ->sin_addr;
		fam = AF_INET;
	} else if (peer->ss_family == AF_INET6) {
		const struct in6_addr *a6 =
			&((const struct sockaddr_in6 *)(const void *)peer)
				 ->sin6_addr;

		a = a6->s6_addr;
		fam = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			a += 12;
			fam = AF_INET;
		}
	} else {
		return false;
	}
	for (unsigned i = 0; i < e->acl.nnets; i++)
		if (net_match(&e->acl.nets[i], a, fam))
			return true;
	return false;
}

/*
 * Whose uid/gid the export takes (server/ident.c): secure, insecure,
 * privport=, untrusted=, peercred=.  0, or -EINVAL for anything else.
 */
static int parse_trust_opt(struct rfs_export *e, const char *tok)
{
	struct rfs_export_acl *a = &e->acl;

	if (!strcmp(tok, "secure"))
		a->insecure = false;
	else if (!strcmp(tok, "insecure"))
		a->insecure = true;
	else if (!strcmp(tok, "privport=loopback"))
		a->privport = RFS_PRIVPORT_LOOPBACK;
	else if (!strcmp(tok, "privport=any"))
		a->privport = RFS_PRIVPORT_ANY;
	else if (!strcmp(tok, "privport=off"))
		a->privport = RFS_PRIVPORT_OFF;
	else if (!strcmp(tok, "untrusted=refuse"))
		a->untrusted_squash = false;
	else if (!strcmp(tok, "untrusted=squash"))
		a->untrusted_squash = true;
	else if (!strcmp(tok, "peercred=map"))
		a->peercred_refuse = false;
	else if (!strcmp(tok, "peercred=refuse"))
		a->peercred_refuse = true;
	else if (!strcmp(tok, "tls=required"))
		a->tls_required = true;
	else if (!strcmp(tok, "tls=optional"))
		a->tls_required = false;
	else
		return -EINVAL;
	return 0;
}

int rfs_cfg_parse_export_opts(struct rfs_export *e, const char *opts)
{
	char buf[512], *save = NULL, *tok;

	if (!opts || !*opts)
		return 0;
	if (strlen(opts) >= sizeof(buf)) {
		rfs_err("config: export %s: options too long", e->name);
		return -EINVAL;
	}
	strcpy(buf, opts);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "ro")) {
			e->ro = true;
		} else if (!strcmp(tok, "rw")) {
			e->ro = false;
		} else if (!strcmp(tok, "root_squash")) {
			e->squash = RFS_SQUASH_ROOT;
		} else if (!strcmp(tok, "no_root_squash")) {
			e->squash = RFS_SQUASH_NONE;
		} else if (!strcmp(tok, "all_squash")) {
			e->squash = RFS_SQUASH_ALL;
		} else if (!strncmp(tok, "anonuid=", 8)) {
			if (parse_u32(tok + 8, &e->anonuid))
				goto bad;
		} else if (!strncmp(tok, "anongid=", 8)) {
			if (parse_u32(tok + 8, &e->anongid))
				goto bad;
		} else if (!strncmp(tok, "net=", 4) ||
			   !strncmp(tok, "allow=", 6)) {
			if (parse_nets(e, strchr(tok, '=') + 1))
				goto bad;
		} else if (!strcmp(tok, "nolocal")) {
			e->acl.nolocal = true;
		} else if (!strncmp(tok, "nbd=", 4)) {
			if (!tok[4] || tok[4] == '/')
				goto bad;
			free(e->nbd_file);
			e->nbd_file = strdup(tok + 4);
			if (!e->nbd_file)
				return -ENOMEM;
		} else if (parse_trust_opt(e, tok)) {
			goto bad;
		}
	}
	return 0;
bad:
	rfs_err("config: export %s: bad option '%s' (known: ro, rw, "
		"root_squash, no_root_squash, all_squash, anonuid=N, "
		"anongid=N, net=CIDR[+CIDR...], nolocal, nbd=FILE, secure, "
		"insecure, "
		"privport=loopback|any|off, untrusted=refuse|squash, "
		"peercred=map|refuse, tls=required|optional)",
		e->name, tok);
	return -EINVAL;
}

static bool name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > RFS_EXPORT_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!isalnum(ch) && ch != '_' && ch != '-' && ch != '.')
			return false;
	}
	return strcmp(name, ".") && strcmp(name, "..");
}

int rfs_cfg_add_export(struct rfs_srv_cfg *c, const char *name,
		       const char *path, const char *opts)
{
	const struct rfs_backend *be;
	struct rfs_export *e;
	int ret;

	if (!name_ok(name)) {
		rfs_err("config: export name '%s' invalid (1..%u of "
			"[A-Za-z0-9_.-])",
			name, RFS_EXPORT_NAME_MAX);
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->nexports; i++) {
		if (!strcmp(c->exports[i].name, name)) {
			rfs_err("config: duplicate export name '%s'", name);
			return -EEXIST;
		}
	}
	if (c->nexports == RFS_MAX_EXPORTS) {
		rfs_err("config: too many exports (max %d)", RFS_MAX_EXPORTS);
		return -E2BIG;
	}
	be = path ? rfs_backend_for(path) : NULL;
	if (!be) {
		rfs_err("config: export %s: path must be absolute%s (backends "
			"built: %s)",
			name,
			strncmp(path ? path : "", "gluster://", 10) ?
				"" :
				"; gluster:// needs a ringfsd built with "
				"-Dgluster=enabled",
			rfs_backend_names());
		return -EINVAL;
	}
	e = &c->exports[c->nexports];
	memset(e, 0, sizeof(*e));
	strcpy(e->name, name);
	e->anonuid = RFS_NOBODY;
	e->anongid = RFS_NOBODY;
	e->root_fd = -1;
	e->mnt_fd = -1;
	e->idx = c->nexports;
	ret = rfs_cfg_parse_export_opts(e, opts);
	if (ret)
		return ret;
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	e->be = be;
	ret = be->parse(e);
	if (ret) {
		free(e->path);
		e->path = NULL;
		return ret;
	}
	c->nexports++;
	return 0;
}

/* "data=/srv/data,ro" */
static int strip(char *s, char **out)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = 0;
	*out = s;
	return 0;
}

static int cfg_line(struct rfs_srv_cfg *c, const char *file, int lineno,
		    char *line)
{
	char *save = NULL, *key, *a, *b, *d, *rest;

	strip(line, &line);
	if (!*line || *line == '#')
		return 0;
	key = strtok_r(line, " \t", &save);
	a = strtok_r(NULL, " \t", &save);
	b = strtok_r(NULL, " \t", &save);
	d = strtok_r(NULL, " \t", &save);
	rest = strtok_r(NULL, " \t", &save);
	if (!strcmp(key, "listen") && a && !b) {
		if (strlen(a) >= sizeof(c->listen))
			goto bad;
		strcpy(c->listen, a);
	} else if (!strcmp(key, "listen-rdma") && a && !b) {
		if (strlen(a) >= sizeof(c->listen_rdma))
			goto bad;
		strcpy(c->listen_rdma, a);
	} else if (!strcmp(key, "nbd-listen") && a && !b) {
		if (strlen(a) >= sizeof(c->nbd_listen))
			goto bad;
		strcpy(c->nbd_listen, a);
	} else if (!strcmp(key, "harden") && !a) {
		c->harden = true;
	} else if (!strcmp(key, "listen-unix") && a && !b) {
		if (strlen(a) >= sizeof(c->listen_unix) || a[0] != '/')
			goto bad;
		strcpy(c->listen_unix, a);
	} else if (!strcmp(key, "transport") && a && !b) {
		if (strlen(a) >= sizeof(c->transport))
			goto bad;
		strcpy(c->transport, a);
	} else if (!strcmp(key, "state-dir") && a && !b) {
		if (strlen(a) >= sizeof(c->state_dir))
			goto bad;
		strcpy(c->state_dir, a);
	} else if (!strcmp(key, "max-nodes") && a && !b) {
		char *end;

		errno = 0;
		c->max_nodes = strtoul(a, &end, 10);
		if (errno || *end || c->max_nodes == 0)
			goto bad;
	} else if (!strcmp(key, "exec-thread") && !a) {
		c->exec_thread = true;
	} else if (!strcmp(key, "reply-log") && a && !b) {
		int m = rfs_cfg_reply_log(a);

		if (m < 0)
			goto bad;
		c->reply_log = (enum rfs_xlog_mode)m;
	} else if (!strcmp(key, "reply-log-dir") && a && !b) {
		if (strlen(a) >= sizeof(c->reply_log_dir) || a[0] != '/')
			goto bad;
		strcpy(c->reply_log_dir, a);
	} else if (!strcmp(key, "takeover-fence") && a && !b) {
		c->takeover_fence_ms = rfs_cfg_fence_ms(a);
		if (c->takeover_fence_ms < 0)
			goto bad;
	} else if (!strcmp(key, "export") && a && b && !rest) {
		return rfs_cfg_add_export(c, a, b, d);
	} else if ((!b || !strcmp(key, "insecure")) &&
		   rfs_cfg_sec_key(c, key, a) != 1) {
		return rfs_cfg_sec_key(c, key, a) ? -EINVAL : 0;
	} else {
		goto bad;
	}
	return 0;
bad:
	rfs_err("config: %s:%d: cannot parse line (keys: listen ADDR, "
		"listen-rdma ADDR, listen-unix PATH, nbd-listen ADDR, harden, "
		"transport NAME, "
		"state-dir DIR, max-nodes N, exec-thread, reply-log MODE, "
		"reply-log-dir DIR, takeover-fence MS, "
		"key-file FILE, tls [on|off|auto|required], tls-cert FILE, "
		"tls-key FILE, insecure, max-connections N, max-inflight N, max-msg BYTES, "
		"setup-timeout S, frame-timeout S, reply-timeout S, "
		"export NAME PATH [OPTIONS])",
		file, lineno);
	return -EINVAL;
}

/* --takeover-fence / takeover-fence: milliseconds, 0..600000; -1: bad */
int rfs_cfg_fence_ms(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 600000)
		return -1;
	return (int)v;
}

int rfs_cfg_reply_log(const char *s)
{
	if (!strcmp(s, "on"))
		return RFS_XLOG_ON;
	if (!strcmp(s, "sync"))
		return RFS_XLOG_SYNC;
	if (!strcmp(s, "off"))
		return RFS_XLOG_OFF;
	return -EINVAL;
}

int rfs_cfg_load(struct rfs_srv_cfg *c, const char *file)
{
	FILE *f;
	char line[4096];
	int lineno = 0, ret = 0;

	f = fopen(file, "re");
	if (!f) {
		ret = -errno;
		rfs_err("config: open %s: %s", file, strerror(errno));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		ret = cfg_line(c, file, lineno, line);
		if (ret)
			break;
	}
	if (!ret && ferror(f)) {
		ret = -EIO;
		rfs_err("config: read %s: I/O error", file);
	}
	fclose(f);
	return ret;
}

int rfs_cfg_open_exports(struct rfs_srv_cfg *c)
{
	for (unsigned i = 0; i < c->nexports; i++) {
		struct rfs_export *e = &c->exports[i];
		int ret = e->be->export_open(e);

		if (ret)
			return ret;
	}
	return 0;
}

void rfs_cfg_free(struct rfs_srv_cfg *c)
{
	for (unsigned i = 0; i < c->nexports; i++) {
		struct rfs_export *e = &c->exports[i];

		e->be->export_close(e);
		free(e->path);
		e->path = NULL;
		free(e->nbd_file);
		e->nbd_file = NULL;
	}
	c->nexports = 0;
}

struct rfs_export *rfs_cfg_find_export(const char *name, uint32_t len)
{
	for (unsigned i = 0; i < rfs_cfg.nexports; i++) {
		struct rfs_export *e = &rfs_cfg.exports[i];

		if (strlen(e->name) == len && !memcmp(e->name, name, len))
			return e;
	}
	return NULL;
}

/* ---- server-wide security settings and limits ------------------------- */

static int parse_ulong_range(const char *key, const char *val, unsigned long lo,
			     unsigned long hi, unsigned long *out)
{
	char *end;

	if (!val)
		goto bad;
	errno = 0;
	*out = strtoul(val, &end, 10);
	if (errno || end == val || *end || *out < lo || *out > hi)
		goto bad;
	return 0;
bad:
	rfs_err("config: %s %s: expected a number in %lu..%lu", key,
		val ? val : "(none)", lo, hi);
	return -EINVAL;
}

int rfs_cfg_sec_key(struct rfs_srv_cfg *c, const char *key, const char *val)
{
	struct rfs_srv_sec *s = &c->sec;
	unsigned long v;

	if (!strcmp(key, "insecure")) {
		if (val) {
			rfs_err("config: insecure takes no value");
			return -EINVAL;
		}
		s->insecure = true;
		return 0;
	}
	if (!strcmp(key, "tls")) {
		if (!val || !strcmp(val, "on"))
			s->tls = RFS_TLS_ON;
		else if (!strcmp(val, "off"))
			s->tls = RFS_TLS_OFF;
		else if (!strcmp(val, "auto"))
			s->tls = RFS_TLS_AUTO;
		else if (!strcmp(val, "required"))
			s->tls = RFS_TLS_REQUIRED;
		else {
			rfs_err("config: tls %s: expected on, off, auto or "
				"required",
				val);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(key, "tls-cert") || !strcmp(key, "tls-key")) {
		char *dst = key[4] == 'c' ? s->tls_cert : s->tls_key;

		if (!val || !*val || strlen(val) >= sizeof(s->tls_cert)) {
			rfs_err("config: %s: expected a path", key);
			return -EINVAL;
		}
		strcpy(dst, val);
		return 0;
	}
	if (!strcmp(key, "key-file")) {
		if (!val || !*val || strlen(val) >= sizeof(s->key_file)) {
			rfs_err("config: key-file: expected a path");
			return -EINVAL;
		}
		strcpy(s->key_file, val);
		return 0;
	}
	if (!strcmp(key, "max-connections")) {
		if (parse_ulong_range(key, val, 1, 1000000, &v))
			return -EINVAL;
		s->max_conns = (unsigned)v;
	} else if (!strcmp(key, "max-inflight")) {
		if (parse_ulong_range(key, val, 1, 1u << 20, &v))
			return -EINVAL;
		s->max_inflight = (unsigned)v;
	} else if (!strcmp(key, "max-msg")) {
		if (parse_ulong_range(key, val, RFS_HDR_SIZE + 4096,
				      RFS_MSG_MAX_LIMIT, &v))
			return -EINVAL;
		s->max_msg = (uint32_t)v;
	} else if (!strcmp(key, "setup-timeout")) {
		if (parse_ulong_range(key, val, 1, 3600, &v))
			return -EINVAL;
		s->setup_timeout_ms = (unsigned)v * 1000;
	} else if (!strcmp(key, "frame-timeout")) {
		if (parse_ulong_range(key, val, 0, 86400, &v))
			return -EINVAL;
		s->frame_timeout_ms = (unsigned)v * 1000;
	} else if (!strcmp(key, "reply-timeout")) {
		if (parse_ulong_range(key, val, 0, 86400, &v))
			return -EINVAL;
		s->reply_timeout_ms = (unsigned)v * 1000;
	} else {
		return 1;
	}
	return 0;
}

/* command-line settings, applied after the config file (they win) */
#define CLI_MAX 16
static struct {
	const char *key, *val;
} cli[CLI_MAX];
static unsigned ncli;

int rfs_cfg_cli_set(const char *key, const char *val)
{
	static struct rfs_srv_cfg tmp; /* large: not on the stack */

	if (ncli == CLI_MAX) {
		rfs_err("--%s: too many options", key);
		return -E2BIG;
	}
	/* check it now, so the error comes before anything else */
	if (rfs_cfg_sec_key(&tmp, key, val))
		return -EINVAL;
	cli[ncli].key = key;
	cli[ncli].val = val;
	ncli++;
	return 0;
}

int rfs_cfg_cli_apply(struct rfs_srv_cfg *c)
{
	for (unsigned i = 0; i < ncli; i++)
		if (rfs_cfg_sec_key(c, cli[i].key, cli[i].val))
			return -EINVAL;
	return 0;
}
