# Integration tests of the ssh and sudo hops against a real sshd and real
# sudo (they need root: they create users, an sshd on a loopback port and
# sudoers rules, and remove them on exit; without root they skip).
INTEGRATION_TESTS += \
	tests/integration/ssh-basic.sh \
	tests/integration/ssh-sudo.sh \
	tests/integration/ssh-nested.sh \
	tests/integration/ssh-errors.sh \
	tests/integration/ssh-kill.sh
EXTRA_DIST += \
	tests/integration/lib-sshd.sh \
	tests/integration/lib-netns.sh \
	tests/integration/ssh-basic.sh \
	tests/integration/ssh-sudo.sh \
	tests/integration/ssh-nested.sh \
	tests/integration/ssh-errors.sh \
	tests/integration/ssh-kill.sh
INTEGRATION_TESTS += tests/integration/sudo-password.sh
EXTRA_DIST += tests/integration/sudo-password.sh
INTEGRATION_TESTS += tests/integration/su-doas.sh
EXTRA_DIST += tests/integration/su-doas.sh
INTEGRATION_TESTS += tests/integration/ssh-keepalive.sh
EXTRA_DIST += tests/integration/ssh-keepalive.sh
INTEGRATION_TESTS += tests/integration/ssh-netns.sh
EXTRA_DIST += tests/integration/ssh-netns.sh
INTEGRATION_TESTS += tests/integration/ssh-password.sh
EXTRA_DIST += tests/integration/ssh-password.sh
INTEGRATION_TESTS += tests/integration/ssh-options.sh
EXTRA_DIST += tests/integration/ssh-options.sh
INTEGRATION_TESTS += tests/integration/sudo-options.sh
EXTRA_DIST += tests/integration/sudo-options.sh
INTEGRATION_TESTS += tests/integration/ssh-fallback.sh
EXTRA_DIST += tests/integration/ssh-fallback.sh
INTEGRATION_TESTS += tests/integration/ssh-shells.sh
EXTRA_DIST += tests/integration/ssh-shells.sh
INTEGRATION_TESTS += tests/integration/ssh-nosh.sh
EXTRA_DIST += tests/integration/ssh-nosh.sh
# The daemon and the ssh shim (lib-fakessh.sh: a sudo password and
# requiretty on the route behind the shim).
INTEGRATION_TESTS += tests/integration/fakessh-basic.sh
EXTRA_DIST += tests/integration/lib-fakessh.sh \
	tests/integration/fakessh-basic.sh
INTEGRATION_TESTS += tests/integration/daemon.sh \
	tests/integration/daemon-faults.sh
EXTRA_DIST += tests/integration/daemon.sh \
	tests/integration/daemon-faults.sh
# Idle routes expire (ControlPersist).
INTEGRATION_TESTS += tests/integration/daemon-persist.sh
EXTRA_DIST += tests/integration/daemon-persist.sh
INTEGRATION_TESTS += tests/integration/fakessh-rsync.sh
EXTRA_DIST += tests/integration/fakessh-rsync.sh
INTEGRATION_TESTS += tests/integration/fakessh-scp.sh
EXTRA_DIST += tests/integration/fakessh-scp.sh
INTEGRATION_TESTS += tests/integration/fakessh-git.sh
EXTRA_DIST += tests/integration/fakessh-git.sh
INTEGRATION_TESTS += tests/integration/secrets.sh
EXTRA_DIST += tests/integration/secrets.sh
INTEGRATION_TESTS += tests/integration/ssh-places.sh
EXTRA_DIST += tests/integration/ssh-places.sh
INTEGRATION_TESTS += tests/integration/ssh-term.sh
EXTRA_DIST += tests/integration/ssh-term.sh
INTEGRATION_TESTS += tests/integration/forward-netns.sh \
	tests/integration/forward-bulk.sh
EXTRA_DIST += tests/integration/forward-netns.sh \
	tests/integration/forward-bulk.sh
# The SSH gateway's file clients through the namespace world's
# bastion+inner+sudo route (lib-gwfiles.sh).
INTEGRATION_TESTS += tests/integration/gateway-netns.sh
EXTRA_DIST += tests/integration/gateway-netns.sh
