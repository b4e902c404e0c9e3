/*
 * net_addr.c - socket addresses for the net module: "HOST:PORT" parsing and
 * formatting, comparisons, and the ADDR item form (net_int.h).
 */
#define _GNU_SOURCE
#include "common/daemon/net_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/base/err.h"

/* ---- socket addresses ------------------------------------------------ */

void net_sa_normalize(struct sockaddr_storage *ss)
{
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    struct sockaddr_in s4;

    if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
        return;
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_port = s6->sin6_port;
    memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &s4, sizeof(s4));
}

uint16_t net_sa_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

void net_sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

int net_sa_ip_equal(const struct sockaddr_storage *a,
                    const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

int net_sa_equal(const struct sockaddr_storage *a,
                 const struct sockaddr_storage *b)
{
    return net_sa_ip_equal(a, b) && net_sa_port(a) == net_sa_port(b);
}

int net_sa_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
}

int net_sa_is_any(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
    return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
}

static int parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    if (*s == '\0')
        return SG_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return SG_EINVAL;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 65535)
            return SG_EINVAL;
    }
    *port = (uint16_t)v;
    return 0;
}

int net_parse_host(const char *host, int allow_names,
                   struct sockaddr_storage *out)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
    struct addrinfo hints, *res = NULL;

    memset(out, 0, sizeof(*out));
    if (*host == '\0' || strcmp(host, "*") == 0) {
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        return 0;
    }
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        return 0;
    }
    if (!allow_names)
        return SG_EINVAL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return SG_EINVAL;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int net_parse_addr(const char *s, int allow_names,
                   struct sockaddr_storage *out)
{
    char buf[256];
    char *host, *port_s, *colon;
    uint16_t port;

    if (s == NULL || strlen(s) >= sizeof(buf))
        return SG_EINVAL;
    strcpy(buf, s);
    if (buf[0] == '[') {
        char *end = strchr(buf, ']');
        if (end == NULL || end[1] != ':')
            return SG_EINVAL;
        *end = '\0';
        host = buf + 1;
        port_s = end + 2;
    } else {
        colon = strrchr(buf, ':');
        if (colon == NULL || strchr(buf, ':') != colon)
            return SG_EINVAL;   /* bare IPv6 needs brackets */
        *colon = '\0';
        host = buf;
        port_s = colon + 1;
    }
    if (parse_port(port_s, &port) != 0 || net_parse_host(host, allow_names, out) != 0)
        return SG_EINVAL;
    net_sa_normalize(out);
    net_sa_set_port(out, port);
    return 0;
}

void net_format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    const struct sockaddr_storage *ss = (const struct sockaddr_storage *)sa;

    if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip,
                  sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, net_sa_port(ss));
    } else if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip,
                  sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, net_sa_port(ss));
    } else {
        snprintf(out, cap, "?");
    }
}

void net_sa_from_item(const proto_addr_item *it, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (it->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, it->addr, 16);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, it->addr, 4);
    }
    net_sa_normalize(ss);
    net_sa_set_port(ss, it->port);
}

void net_sa_to_item(const struct sockaddr_storage *ss, uint16_t port,
                    proto_addr_item *it)
{
    memset(it, 0, sizeof(*it));
    if (ss->ss_family == AF_INET6) {
        it->family = 6;
        memcpy(it->addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    } else {
        it->family = 4;
        memcpy(it->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    }
    it->port = port;
}
