#!/usr/bin/env python3
"""Writes about MB megabytes of chat-like text, one message per line (seeded): ordinary
sentences with dates, times, prices, order numbers and versions; about 2% of messages carry
one planted PII item (e-mail, phone, card, IBAN, IP, SSN, API key, secret).
Usage: gen_pii_corpus.py OUT MB"""
import random
import sys

out, mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(5)
words = ("the a to is my i you it and for of in on with can not how what why when order refund "
         "account password reset help please thanks error model answer wrong again shipping invoice "
         "billing plan upgrade latency support ticket customer service delivery package tracking "
         "payment subscription cancel renew address update profile settings login issue problem "
         "response quickly today tomorrow yesterday week month really would could should").split()
extras = ["on 2024-03-15", "at 10:30", "for $19.99", "order #{n}", "version 2.{v}.1", "about 3.5 kg",
          "in 12 days", "since 15/03/2024", "ticket {n}", "from 9:00 to 17:30"]
pii = ["jane.doe{n}@example.com", "+44 20 7946 {d4}", "(555) 123-{d4}", "4111 1111 1111 1111",
       "DE89 3704 0044 0532 0130 00", "192.168.{o}.{o}", "123-45-{d4}",
       "sk-proj-AbCdEfGhIjKlMnOpQrStUv{d4}", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234{d4}",
       "wJalrXUtnFEMI/K7MDENG/bPxRfi3CY8{d4}"]
target = mb * 1_000_000
written = 0
with open(out, "w") as f:
    while written < target:
        parts = [" ".join(rnd.choice(words) for _ in range(rnd.randint(6, 18)))]
        for _ in range(rnd.randint(0, 2)):
            parts.append(rnd.choice(extras).format(n=rnd.randint(10000, 99999999), v=rnd.randint(0, 9)))
            parts.append(" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12))))
        if rnd.random() < 0.02:
            parts.insert(rnd.randint(0, len(parts)), rnd.choice(pii).format(
                n=rnd.randint(1, 999), d4=f"{rnd.randint(1000, 9999)}", o=rnd.randint(1, 254)))
        line = " ".join(parts)
        line = line[:1].upper() + line[1:] + rnd.choice([".", "?", "!", ""]) + "\n"
        f.write(line)
        written += len(line)
