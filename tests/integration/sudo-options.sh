#!/bin/sh
# sudo hop options: group=, login, preserve-env, nohome (and -H by
# default); unknown options are refused before anything runs.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (creates a user)"
command -v sudo >/dev/null || skip "sudo is not installed"
u="spno$(printf '%04x' $(($$ % 65536)))"
trap '_t=$?; userdel -r "$u" >/dev/null 2>&1; (exit $_t); _lib_cleanup' EXIT
useradd -m -s /bin/sh "$u" || fail "useradd"
home=$(getent passwd "$u" | cut -d: -f6)

check "sudo=U: HOME is the target's (-H)" "$u $home" \
    "$(spn run "sudo=$u" -- sh -c 'echo $(id -un) $HOME')"
check "group=" "$u daemon" \
    "$(spn run "sudo=$u,group=daemon" -- sh -c 'echo $(id -un) $(id -gn)')"
check "preserve-env" "kept" \
    "$(SPN_OPT_TEST=kept spn run "sudo=$u,preserve-env" -- sh -c 'echo $SPN_OPT_TEST')"
check "without preserve-env" "" \
    "$(SPN_OPT_TEST=kept spn run "sudo=$u" -- sh -c 'echo $SPN_OPT_TEST')"
check "nohome keeps our HOME" "$HOME" \
    "$(spn run "sudo=$u,nohome,preserve-env" -- sh -c 'echo $HOME')"
# login: the target's login shell runs stage 0 (-i); cwd is its home.
check "login" "$u $home" \
    "$(spn run "sudo=$u,login" -- sh -c 'echo $(id -un) $(pwd)')"
check "plain sudo is root" root "$(spn run sudo -- id -un)"
spn run "sudo=$u,colour" -- true 2>"$TMPD/err"
check_rc "unknown option" 2 $? "$TMPD/err"
contains "$TMPD/err" "unknown sudo hop option 'colour'" ||
    fail "unknown option: $(cat "$TMPD/err")"
pass
