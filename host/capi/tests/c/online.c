/*
 * online SERVER: prints "online", "offline", or DsIsNTDSOnlineA's code in hex.
 */
#include <stdio.h>

#include "ntdsbcli.h"

int main(int argc, char **argv)
{
    BOOL online = FALSE;
    HRESULT hr;
    if (argc != 2) return 2;
    hr = DsIsNTDSOnlineA(argv[1], &online);
    if (hr != S_OK) printf("0x%08lx\n", (unsigned long)(DWORD)hr);
    else printf("%s\n", online ? "online" : "offline");
    return 0;
}
