/*
 * The local terminal while a remote pty runs (run -t, ssh -t): raw here,
 * so keys go through untouched, and restored however we leave.
 */
#include <sys/ioctl.h>

#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static struct termios	tty_saved;
static int		tty_is_raw;

void
tty_restore(void)
{
	if (tty_is_raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &tty_saved);
	tty_is_raw = 0;
}

/* The window size for the remote pty, and raw mode if stdin is a tty. */
void
tty_setup(uint32_t *rows, uint32_t *cols)
{
	static int registered;
	struct winsize ws;
	struct termios raw;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &tty_saved) != 0)
		return;
	raw = tty_saved;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0) {
		tty_is_raw = 1;
		if (!registered++)
			atexit(tty_restore);
	}
}
