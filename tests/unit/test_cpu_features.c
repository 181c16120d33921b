/* The ISA level detected against what the system reports by another path: x86, the CPU flags
 * of /proc/cpuinfo (the kernel's view, which drops AVX when it does not save the state);
 * AArch64, the architecture (Advanced SIMD is mandatory); 32-bit Arm, the AT_HWCAP entry read
 * from /proc/self/auxv (the detection calls getauxval). Also the names and the force hook. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu_features.h"

static int failures;

static void expect(int cond, const char *what) {
  printf("%s %s\n", cond ? "ok  " : "FAIL", what);
  failures += !cond;
}

#if defined(__x86_64__) || defined(__i386__)
/* 1 when /proc/cpuinfo's first "flags" line lists flag as a whole word. */
static int has_flag(const char *line, const char *flag) {
  const size_t n = strlen(flag);
  for (const char *p = line; (p = strstr(p, flag)) != NULL; p += n)
    if ((p == line || p[-1] == ' ' || p[-1] == '\t') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
      return 1;
  return 0;
}

static int expected_level(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  static char line[16384];
  int level = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "flags", 5)) {
      const int avx2 = has_flag(line, "avx2") && has_flag(line, "fma");
      const int avx512 = avx2 && has_flag(line, "avx512f") && has_flag(line, "avx512bw") &&
                         has_flag(line, "avx512dq") && has_flag(line, "avx512vl");
      level = avx512 ? TOD_ISA_AVX512 : avx2 ? TOD_ISA_AVX2 : TOD_ISA_SCALAR;
      break;
    }
  if (f) fclose(f);
  return level;
}
#elif defined(__aarch64__)
static int expected_level(void) { return TOD_ISA_NEON; }
#elif defined(__arm__)
static int expected_level(void) {
  FILE *f = fopen("/proc/self/auxv", "rb");
  unsigned long entry[2];
  int level = -1;
  while (f && fread(entry, sizeof entry, 1, f) == 1 && entry[0] != 0)
    if (entry[0] == 16) /* AT_HWCAP */
      level = (entry[1] & (1UL << 12)) ? TOD_ISA_NEON : TOD_ISA_SCALAR; /* HWCAP_NEON */
  if (f) fclose(f);
  return level;
}
#else
static int expected_level(void) { return TOD_ISA_SCALAR; }
#endif

int main(void) {
  const int max = tod_cpu_isa_max(), want = expected_level();
  char msg[160];
  snprintf(msg, sizeof msg, "hardware level %s (%d), the system says %s (%d)", tod_isa_name(max),
           max, want >= 0 ? tod_isa_name(want) : "?", want);
  expect(want >= 0 && max == want, msg);
  for (int isa = 0; isa < TOD_ISA_COUNT; isa++) {
    snprintf(msg, sizeof msg, "level %d has a name (%s)", isa, tod_isa_name(isa));
    expect(strcmp(tod_isa_name(isa), "unknown") != 0, msg);
    for (int j = 0; j < isa; j++)
      if (!strcmp(tod_isa_name(isa), tod_isa_name(j))) expect(0, "level names are distinct");
  }
  expect(!strcmp(tod_isa_name(TOD_ISA_COUNT), "unknown"), "past the last level: unknown");
#if defined(__aarch64__) || defined(__arm__)
  expect(!strcmp(tod_isa_name(TOD_ISA_NEON), "neon"), "Arm's SIMD level is named neon");
#endif
  /* Without TOD_ISA in the environment the kernels use the hardware level. */
  if (!getenv("TOD_ISA")) expect(tod_cpu_isa() == max, "default level is the hardware's");
  for (int isa = 0; isa < TOD_ISA_COUNT; isa++) {
    const int got = tod_cpu_force_isa(isa);
    snprintf(msg, sizeof msg, "forcing %s gives %s", tod_isa_name(isa), tod_isa_name(got));
    expect(got == (isa < max ? isa : max) && tod_cpu_isa() == got, msg);
  }
  tod_cpu_force_isa(-1);
  if (!getenv("TOD_ISA")) expect(tod_cpu_isa() == max, "force -1 restores the default");
  if (failures) {
    printf("%d failures\n", failures);
    return 1;
  }
  printf("ok\n");
  return 0;
}
