/*
 * A stand-in for a vendor ID-card reader library, with the exported functions and
 * signatures of the sdtapi family (SDT_*) and of the 华视 termb family (CVR_*, Get*).
 * Built by the tests with gcc into libsdtapi.so / libtermb.so and loaded by the
 * agent's ctypes backend exactly as a vendor's library would be.
 *
 * The "reader" is a directory named by $IDCARD_STUB_DIR:
 *   unplugged        present: the reader is not connected (port calls fail)
 *   text.bin         present: a card lies on the reader; its 256-byte UCS-2 text block (sdtapi)
 *   fields.txt       the same card for termb: one field per line, GB18030, in the order
 *                    name, sex, nation, birth, address, id, authority, start, end, cert type
 *   <function>.rc    a return code the named function gives once (the file is then removed)
 * calls.log gets one line per call, so a test can see what the agent asked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int port_open = 0;

static void path_of(char *out, size_t size, const char *name) {
    const char *dir = getenv("IDCARD_STUB_DIR");
    snprintf(out, size, "%s/%s", dir ? dir : ".", name);
}

static int exists(const char *name) {
    char path[4096];
    path_of(path, sizeof path, name);
    return access(path, F_OK) == 0;
}

static void note_call(const char *function) {
    char path[4096];
    path_of(path, sizeof path, "calls.log");
    FILE *log = fopen(path, "a");
    if (log) {
        fprintf(log, "%s\n", function);
        fclose(log);
    }
}

/* A return code planted for this call, or `fallback`. */
static int planted(const char *function, int fallback) {
    char name[256], path[4096];
    snprintf(name, sizeof name, "%s.rc", function);
    path_of(path, sizeof path, name);
    FILE *file = fopen(path, "r");
    if (!file) return fallback;
    int code = fallback;
    if (fscanf(file, "%i", &code) != 1) code = fallback;
    fclose(file);
    unlink(path);
    return code;
}

static long read_file(const char *name, unsigned char *out, long size) {
    char path[4096];
    path_of(path, sizeof path, name);
    FILE *file = fopen(path, "rb");
    if (!file) return -1;
    long count = (long)fread(out, 1, (size_t)size, file);
    fclose(file);
    return count;
}

/* ------------------------------------------------------------------ sdtapi */

int SDT_OpenPort(int port) {
    note_call("SDT_OpenPort");
    if (exists("unplugged") || port != 1001) return 0x01;
    port_open = 1;
    return planted("SDT_OpenPort", 0x90);
}

int SDT_ClosePort(int port) {
    (void)port;
    note_call("SDT_ClosePort");
    port_open = 0;
    return 0x90;
}

static int port_status(void) {
    if (exists("unplugged")) return 0x02;  /* the reader stopped answering: receive timeout */
    if (!port_open) return 0x01;
    return 0;
}

int SDT_StartFindIDCard(int port, unsigned char *manage, int if_open) {
    (void)port; (void)if_open;
    note_call("SDT_StartFindIDCard");
    int status = port_status();
    if (status) return status;
    memset(manage, 0, 4);
    return planted("SDT_StartFindIDCard", exists("text.bin") ? 0x9F : 0x80);
}

int SDT_SelectIDCard(int port, unsigned char *manage, int if_open) {
    (void)port; (void)if_open;
    note_call("SDT_SelectIDCard");
    int status = port_status();
    if (status) return status;
    memset(manage, 0, 8);
    return planted("SDT_SelectIDCard", exists("text.bin") ? 0x90 : 0x81);
}

int SDT_ReadBaseMsg(int port, unsigned char *text, unsigned int *text_length, unsigned char *photo,
                    unsigned int *photo_length, int if_open) {
    (void)port; (void)if_open;
    note_call("SDT_ReadBaseMsg");
    int status = port_status();
    if (status) return status;
    int code = planted("SDT_ReadBaseMsg", 0x90);
    if (code != 0x90) return code;
    long count = read_file("text.bin", text, 256);
    if (count < 0) return 0x41;
    *text_length = (unsigned int)count;
    memset(photo, 0x5A, 1024);
    *photo_length = 1024;
    return 0x90;
}

/* ------------------------------------------------------------------ termb */

static char fields[10][256];
static int fields_loaded = 0;

int CVR_InitComm(int port) {
    note_call("CVR_InitComm");
    if (exists("unplugged") || port != 1001) return 2;
    port_open = 1;
    return planted("CVR_InitComm", 1);
}

int CVR_CloseComm(void) {
    note_call("CVR_CloseComm");
    port_open = 0;
    return 1;
}

int CVR_Authenticate(void) {
    note_call("CVR_Authenticate");
    if (exists("unplugged") || !port_open) return 4;
    return planted("CVR_Authenticate", exists("fields.txt") ? 1 : 2);
}

int CVR_Read_Content(int active) {
    (void)active;
    note_call("CVR_Read_Content");
    if (exists("unplugged") || !port_open) return 4;
    int code = planted("CVR_Read_Content", 1);
    if (code != 1) return code;
    char path[4096];
    path_of(path, sizeof path, "fields.txt");
    FILE *file = fopen(path, "rb");
    if (!file) return 0;
    memset(fields, 0, sizeof fields);
    for (int i = 0; i < 10 && fgets(fields[i], sizeof fields[i], file); i++)
        fields[i][strcspn(fields[i], "\r\n")] = 0;
    fclose(file);
    fields_loaded = 1;
    /* Like the real library: the card's text and photo left in the working directory. */
    FILE *text = fopen("wz.txt", "wb");
    if (text) { fputs(fields[0], text); fputs(fields[5], text); fclose(text); }
    FILE *image = fopen("zp.bmp", "wb");
    if (image) { fputs("BM", image); fclose(image); }
    return 1;
}

static int give(int index, char *out, int *length) {
    if (!fields_loaded) return 0;
    int size = (int)strlen(fields[index]);
    if (size + 1 > *length) return 0;
    memcpy(out, fields[index], (size_t)size + 1);
    *length = size;
    return 1;
}

int GetPeopleName(char *out, int *length) { return give(0, out, length); }
int GetPeopleSex(char *out, int *length) { return give(1, out, length); }
int GetPeopleNation(char *out, int *length) { return give(2, out, length); }
int GetPeopleBirthday(char *out, int *length) { return give(3, out, length); }
int GetPeopleAddress(char *out, int *length) { return give(4, out, length); }
int GetPeopleIDCode(char *out, int *length) { return give(5, out, length); }
int GetDepartment(char *out, int *length) { return give(6, out, length); }
int GetStartDate(char *out, int *length) { return give(7, out, length); }
int GetEndDate(char *out, int *length) { return give(8, out, length); }
int GetCertType(char *out, int *length) { return give(9, out, length); }
