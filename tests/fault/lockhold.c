// SPDX-License-Identifier: MIT
/*
 * lockhold: lock helper for the locks_restart fault case.
 *
 *   lockhold hold FILE1 START LEN FILE2
 *	takes an fcntl write lock on [START, START+LEN) of FILE1 and an
 *	exclusive flock on FILE2, prints "held", then obeys commands read
 *	one a line from stdin, answering each with one line on stdout:
 *	  io       pwrite + pread FILE1 and FILE2: "io ok" or "io ERRNO"
 *	  release  unlock both: "released"
 *	  quit     exit (closing the files); so does EOF.
 *   lockhold check FILE1 START LEN FILE2
 *	prints "posix=held|free flock=held|free": F_GETLK for a write lock
 *	on the range of FILE1, flock(LOCK_EX|LOCK_NB) on FILE2 (unlocked
 *	again when it was free).
 *   lockhold take FILE1 START LEN FILE2
 *	F_SETLK (write) and flock(LOCK_EX|LOCK_NB); prints "taken" or
 *	"busy", then with "taken" holds them until a line or EOF on stdin.
 * Exit status: 0, or 1 on a failure (printed on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "lockhold: %s: %s\n", what, strerror(errno));
	return 1;
}

/* a lock of type on [start, start + len) */
static struct flock lk_range(short type, off_t start, off_t len)
{
	return (struct flock){
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = start,
		.l_len = len,
	};
}

static int setlk(int fd, short type, off_t start, off_t len)
{
	struct flock fl = lk_range(type, start, len);

	return fcntl(fd, F_SETLK, &fl);
}

static void answer(const char *s)
{
	printf("%s\n", s);
	fflush(stdout);
}

static int hold(int fd1, int fd2, off_t start, off_t len)
{
	char line[64], buf[4];

	if (setlk(fd1, F_WRLCK, start, len) < 0)
		return die("F_SETLK F_WRLCK");
	if (flock(fd2, LOCK_EX | LOCK_NB) < 0)
		return die("flock LOCK_EX");
	answer("held");
	while (fgets(line, sizeof(line), stdin)) {
		if (!strcmp(line, "io\n")) {
			if (pwrite(fd1, "lock", 4, start) != 4 ||
			    pread(fd1, buf, 4, start) != 4 ||
			    pwrite(fd2, "lock", 4, 0) != 4 ||
			    pread(fd2, buf, 4, 0) != 4) {
				snprintf(line, sizeof(line), "io %s",
					 strerrorname_np(errno));
				answer(line);
			} else {
				answer("io ok");
			}
		} else if (!strcmp(line, "quit\n")) {
			break;
		} else if (!strcmp(line, "release\n")) {
			if (setlk(fd1, F_UNLCK, start, len) < 0)
				return die("F_SETLK F_UNLCK");
			if (flock(fd2, LOCK_UN) < 0)
				return die("flock LOCK_UN");
			answer("released");
		} else {
			fprintf(stderr, "lockhold: unknown command %s", line);
			return 1;
		}
	}
	return 0;
}

static int check(int fd1, int fd2, off_t start, off_t len)
{
	struct flock fl = lk_range(F_WRLCK, start, len);
	const char *posix, *fk;

	if (fcntl(fd1, F_GETLK, &fl) < 0)
		return die("F_GETLK");
	posix = fl.l_type == F_UNLCK ? "free" : "held";
	if (flock(fd2, LOCK_EX | LOCK_NB) == 0) {
		fk = "free";
		if (flock(fd2, LOCK_UN) < 0)
			return die("flock LOCK_UN");
	} else if (errno == EWOULDBLOCK) {
		fk = "held";
	} else {
		return die("flock LOCK_EX|LOCK_NB");
	}
	printf("posix=%s flock=%s\n", posix, fk);
	return 0;
}

static int take(int fd1, int fd2, off_t start, off_t len)
{
	char c;

	if (setlk(fd1, F_WRLCK, start, len) < 0) {
		if (errno != EAGAIN && errno != EACCES)
			return die("F_SETLK F_WRLCK");
		answer("busy");
		return 0;
	}
	if (flock(fd2, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return die("flock LOCK_EX|LOCK_NB");
		answer("busy");
		return 0;
	}
	answer("taken");
	while (read(0, &c, 1) > 0 && c != '\n')
		;
	return 0;
}

int main(int argc, char **argv)
{
	off_t start, len;
	int fd1, fd2;

	if (argc != 6) {
		fprintf(stderr, "usage: lockhold hold|check|take FILE1 START "
				"LEN FILE2\n");
		return 2;
	}
	start = strtoll(argv[3], NULL, 0);
	len = strtoll(argv[4], NULL, 0);
	fd1 = open(argv[2], O_RDWR);
	if (fd1 < 0)
		return die(argv[2]);
	fd2 = open(argv[5], O_RDWR);
	if (fd2 < 0)
		return die(argv[5]);
	if (!strcmp(argv[1], "hold"))
		return hold(fd1, fd2, start, len);
	if (!strcmp(argv[1], "check"))
		return check(fd1, fd2, start, len);
	if (!strcmp(argv[1], "take"))
		return take(fd1, fd2, start, len);
	fprintf(stderr, "lockhold: unknown mode %s\n", argv[1]);
	return 2;
}
