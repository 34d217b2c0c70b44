// SPDX-License-Identifier: MIT
/*
 * replay: a main() for fuzz targets built without libFuzzer (gcc, plain
 * test runs).  Runs LLVMFuzzerTestOneInput once on every file named on the
 * command line or found in a directory named there.  Fails when an input
 * cannot be read or when there is no input at all, so an empty or missing
 * corpus cannot pass silently.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "replay: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "replay: stat %s: %s\n", path, strerror(errno));
		goto close_fd;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		goto close_fd;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "replay: read %s: %s\n", path,
				n < 0 ? strerror(errno) : "short file");
			goto free_buf;
		}
		got += (size_t)n;
	}
	LLVMFuzzerTestOneInput(buf, got);
	ret = 0;
free_buf:
	free(buf);
close_fd:
	close(fd);
	return ret;
}

static int run_dir(const char *path, unsigned *count)
{
	struct dirent *de;
	char sub[4096];
	DIR *d;
	int ret = 0;

	d = opendir(path);
	if (!d) {
		fprintf(stderr, "replay: opendir %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
				     de->d_name) >= sizeof(sub)) {
			fprintf(stderr, "replay: path too long in %s\n", path);
			ret = -1;
			break;
		}
		if (run_file(sub) < 0) {
			ret = -1;
			break;
		}
		(*count)++;
	}
	closedir(d);
	return ret;
}

int main(int argc, char **argv)
{
	struct stat st;
	unsigned count = 0;
	int i;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
				strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &count) < 0)
				return 1;
		} else {
			if (run_file(argv[i]) < 0)
				return 1;
			count++;
		}
	}
	if (count == 0) {
		fprintf(stderr, "replay: no inputs (usage: %s FILE|DIR...)\n",
			argv[0]);
		return 1;
	}
	printf("replay: %u inputs ran\n", count);
	return 0;
}
