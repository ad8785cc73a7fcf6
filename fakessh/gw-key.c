/*
 * The gateway's host key: ed25519, made once at config_path(HOSTKEY_NAME)
 * (0600, in a 0700 directory), with a .pub beside it whose comment is
 * "spindle-gateway", so that `ssh-keygen -lf KEY.pub` prints what
 * `spindle-gateway key fingerprint` does.  A new key replaces the old
 * one by rename, whole or not at all; the daemon notices the new file
 * and starts a new gateway for the next client (cli/dgateway.c).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "gateway.h"
#include "fakessh.h"

#define GW_KEY_FILE_MAX	(64 * 1024)	/* an ed25519 key is ~400 bytes */
#define GW_KEY_COMMENT	"spindle-gateway"

/*
 * Write text to path by way of a temporary file and a rename; or, not
 * replace, a link: two programs making the first key at once (the
 * gateway, `spindle ssh-config`) then agree on one, the first's.  1:
 * not replace, and there is one already; -1 and why.
 */
static int
gw_key_write(const char *path, const char *text, mode_t mode, int replace,
    char *why, size_t whylen)
{
	char *tmp = xprintf("%s.new.%ld", path, (long)getpid());
	size_t len = strlen(text), off = 0;
	ssize_t n;
	int fd, rc = -1;

	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	while (fd >= 0 && off < len) {
		if ((n = write(fd, text + off, len - off)) < 0 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	if (fd >= 0 && off == len && fchmod(fd, mode) == 0 &&
	    fsync(fd) == 0) {
		if (replace)
			rc = rename(tmp, path) == 0 ? 0 : -1;
		else if (link(tmp, path) == 0)
			rc = 0;
		else if (errno == EEXIST)
			rc = 1;
	}
	if (rc < 0)
		snprintf(why, whylen, "cannot write %s: %s", path,
		    off < len ? "short write" : strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);	/* gone after a rename; the extra name after a link */
	free(tmp);
	return rc;
}

/* "ssh-ed25519 AAAA... spindle-gateway", or NULL. */
static char *
gw_key_public_line(ssh_key key)
{
	char *b64 = NULL, *line;

	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return NULL;
	line = xprintf("%s %s %s", ssh_key_type_to_char(ssh_key_type(key)),
	    b64, GW_KEY_COMMENT);
	ssh_string_free_char(b64);
	return line;
}

static int
gw_key_write_pub(const char *path, ssh_key key, char *why, size_t whylen)
{
	char *pub = xprintf("%s.pub", path), *line, *text;
	int rc = -1;

	if ((line = gw_key_public_line(key)) == NULL)
		snprintf(why, whylen, "cannot export the public key");
	else {
		text = xprintf("%s\n", line);
		rc = gw_key_write(pub, text, 0644, 1, why, whylen);
		free(text);
	}
	free(line);
	free(pub);
	return rc;
}

/* A new key at path (replace: whatever is there), and its .pub.
 * NULL: said why, or *raced: another made one first. */
static ssh_key
gw_key_make(const char *path, int replace, int *raced, char *why,
    size_t whylen)
{
	ssh_key key = NULL;
	char *b64 = NULL;
	int rc;

	*raced = 0;
	if (hostkey_mkdir(path, why, whylen) != 0)
		return NULL;
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK ||
	    ssh_pki_export_privkey_base64(key, NULL, NULL, NULL,
	    &b64) != SSH_OK) {
		snprintf(why, whylen, "cannot make an ed25519 key");
		ssh_key_free(key);
		return NULL;
	}
	rc = gw_key_write(path, b64, 0600, replace, why, whylen);
	explicit_bzero(b64, strlen(b64));
	ssh_string_free_char(b64);
	*raced = rc == 1;
	if (rc != 0 || gw_key_write_pub(path, key, why, whylen) != 0) {
		ssh_key_free(key);
		return NULL;
	}
	return key;
}

/* The whole file (checked by hostkey_open), NUL-terminated. */
static char *
gw_key_read(int fd, const char *path, char *why, size_t whylen)
{
	char *buf = xmalloc(GW_KEY_FILE_MAX + 1);
	size_t len = 0;
	ssize_t n;

	while (len < GW_KEY_FILE_MAX) {
		n = read(fd, buf + len, GW_KEY_FILE_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	if (len == 0 || len == GW_KEY_FILE_MAX) {
		snprintf(why, whylen, "host key %s: %s", path, len == 0 ?
		    "empty" : "too big");
		explicit_bzero(buf, len);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* The key in the file open on fd (checked), ed25519; NULL and why. */
static ssh_key
gw_key_import(int fd, const char *path, char *why, size_t whylen)
{
	ssh_key key = NULL;
	char *text;

	if ((text = gw_key_read(fd, path, why, whylen)) == NULL)
		return NULL;
	if (ssh_pki_import_privkey_base64(text, NULL, NULL, NULL,
	    &key) != SSH_OK)
		snprintf(why, whylen, "host key %s: not a key libssh can read: "
		    "remove it and run 'spindle gateway rekey'", path);
	else if (ssh_key_type(key) != SSH_KEYTYPE_ED25519) {
		snprintf(why, whylen, "host key %s: not ed25519", path);
		ssh_key_free(key);
		key = NULL;
	}
	explicit_bzero(text, strlen(text));
	free(text);
	return key;
}

ssh_key
gw_key_load(char *why, size_t whylen)
{
	char *path = hostkey_path(), *pub;
	ssh_key key = NULL;
	struct stat st;
	int fd, rc, raced = 0;

	if (path == NULL) {
		snprintf(why, whylen, "no HOME or XDG_CONFIG_HOME for the "
		    "host key");
		return NULL;
	}
	if ((rc = hostkey_open(path, &fd, why, whylen)) == 1) {
		key = gw_key_make(path, 0, &raced, why, whylen);
		/* Another made the first key meanwhile: theirs it is. */
		if (raced)
			rc = hostkey_open(path, &fd, why, whylen);
	}
	if (rc == 0) {
		key = gw_key_import(fd, path, why, whylen);
		close(fd);
	}
	/* The .pub is for people and ssh-keygen: put it back if gone. */
	pub = xprintf("%s.pub", path);
	if (key != NULL && lstat(pub, &st) != 0)
		gw_key_write_pub(path, key, why, whylen);
	free(pub);
	free(path);
	return key;
}

/* "256 SHA256:... spindle-gateway (ED25519)", as ssh-keygen -lf. */
static int
gw_key_fingerprint(ssh_key key)
{
	unsigned char *hash = NULL;
	size_t len;
	char *fp;

	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &len) != SSH_OK)
		return 1;
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
	ssh_clean_pubkey_hash(&hash);
	if (fp == NULL)
		return 1;
	printf("256 %s %s (ED25519)\n", fp, GW_KEY_COMMENT);
	ssh_string_free_char(fp);
	return 0;
}

static int
gw_key_usage(void)
{
	fprintf(stderr, "usage: spindle-gateway key print | fingerprint | "
	    "rekey\n");
	return 2;
}

/*
 * spindle-gateway key print|fingerprint|rekey: for `spindle gateway`
 * and `spindle ssh-config`, which do not link libssh.  print makes the
 * key if there is none.
 */
int
gw_key_main(int argc, char **argv)
{
	char why[512], *path, *line;
	ssh_key key;
	int rc, raced;

	if (argc != 2)
		return gw_key_usage();
	if (strcmp(argv[1], "rekey") == 0) {
		if ((path = hostkey_path()) == NULL) {
			fprintf(stderr, "spindle-gateway: no HOME or "
			    "XDG_CONFIG_HOME for the host key\n");
			return 1;
		}
		/* A bad directory is refused, not written into. */
		if (hostkey_open(path, NULL, why, sizeof why) == -2)
			key = NULL;
		else
			key = gw_key_make(path, 1, &raced, why, sizeof why);
		free(path);
	} else if (strcmp(argv[1], "print") == 0 ||
	    strcmp(argv[1], "fingerprint") == 0)
		key = gw_key_load(why, sizeof why);
	else
		return gw_key_usage();
	if (key == NULL) {
		fprintf(stderr, "spindle-gateway: %s\n", why);
		return 1;
	}
	if (strcmp(argv[1], "print") == 0) {
		if ((line = gw_key_public_line(key)) != NULL)
			printf("%s\n", line);
		rc = line == NULL;
		free(line);
	} else
		rc = gw_key_fingerprint(key);
	ssh_key_free(key);
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}
