/* Prints its effective uid: installed setuid root by the security tests. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("%u\n", (unsigned)geteuid());
  return 0;
}
