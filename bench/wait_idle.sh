#!/usr/bin/env bash
# Block until the machine is idle: the CPUs were >= 90% idle over 3 s, two samples in a row
# (`bash bench/wait_idle.sh`). The repro scripts call it before each timed run so that a
# concurrent job (a test suite, another bench) does not end up in the numbers.
idle_pct() {
  read -r _ u n s i w x y z _ < /proc/stat; t1=$((u+n+s+i+w+x+y+z)); i1=$((i+w))
  sleep 3
  read -r _ u n s i w x y z _ < /proc/stat; t2=$((u+n+s+i+w+x+y+z)); i2=$((i+w))
  echo $(( 100 * (i2 - i1) / (t2 - t1) ))
}
ok=0
while [ $ok -lt 2 ]; do
  if [ "$(idle_pct)" -ge 90 ]; then ok=$((ok + 1)); else ok=0; fi
done
