#!/usr/bin/env bash
# Size of the device libraries of a build configured with -DTOD_MINIMAL=ON (issue 12): each
# archive copied and stripped with the build's own `strip --strip-unneeded`, in bytes. On aarch64
# it fails when tod_min (inference only) exceeds 300 KB or tod_rt (inference + training) 800 KB
# (KB = 1000 bytes), and on every target when tod_min references stdio or pthreads.
#   bash scripts/size_report.sh BUILD_DIR
set -euo pipefail
dir=${1:?usage: size_report.sh BUILD_DIR}
cache=$dir/CMakeCache.txt
[ -f "$cache" ] || { echo "size_report: $dir is not a CMake build"; exit 1; }
get() { sed -n "s/^$1:[A-Z]*=//p" "$cache"; }
strip_tool=$(get CMAKE_STRIP)
nm_tool=$(get CMAKE_NM)
arch=$(sed -n 's/^set(CMAKE_SYSTEM_PROCESSOR "\(.*\)")/\1/p' "$dir"/CMakeFiles/*/CMakeSystem.cmake | head -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for lib in tod_min tod_rt; do
  a=$dir/lib$lib.a
  [ -f "$a" ] || { echo "size_report: $a missing (configure with -DTOD_MINIMAL=ON)"; exit 1; }
  cp "$a" "$tmp/"
  "$strip_tool" --strip-unneeded "$tmp/lib$lib.a"
  bytes=$(stat -c %s "$tmp/lib$lib.a")
  limit=$([ "$lib" = tod_min ] && echo 300000 || echo 800000)
  verdict=""
  if [ "$arch" = aarch64 ]; then
    if [ "$bytes" -le "$limit" ]; then verdict="(limit $((limit / 1000)) KB: ok)"
    else verdict="(limit $((limit / 1000)) KB: OVER)"; status=1; fi
  fi
  printf '%-8s %-7s %8d bytes  %6.1f KB stripped, -Os %s\n' "$arch" "$lib" "$bytes" \
    "$(awk "BEGIN { print $bytes / 1000 }")" "$verdict"
done
# The minimal library's external references: libc and libm only, nothing of stdio or pthreads.
bad=$("$nm_tool" -u "$dir/libtod_min.a" | awk '{print $NF}' |
  grep -E '^(_IO_|__isoc99_|pthread_|(v|f|s|sn|vsn|vf)?printf$|(f|s)?scanf$|f(open|close|read|write|puts|gets|flush|seek|tell)|puts$|perror$|std(in|out|err)$)' || true)
if [ -n "$bad" ]; then
  echo "$arch tod_min references stdio or pthreads: $(echo $bad)"
  status=1
fi
exit $status
