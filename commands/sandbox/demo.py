"""Demo state of the OUTSCALE sandbox (``omi-bot sandbox`` without ``--accounts``).

These credentials are public on purpose: they only open the local sandbox.

Accounts (Region ``eu-west-2``):

| role          | account_id   | access key           | secret key                   |
|---------------|--------------|----------------------|------------------------------|
| seller (TINA) | 111111111111 | SELLERACCESSKEY0001  | seller-secret-key-demo       |
| distribution  | 222222222222 | DISTRIBACCESSKEY0002 | distribution-secret-key-demo |
| subscriber A  | 333333333333 | SUBSCRIBERAKEY00003  | subscriber-a-secret-key-demo |
| subscriber B  | 444444444444 | SUBSCRIBERBKEY00004  | subscriber-b-secret-key-demo |
| subscriber C  | 555555555555 | SUBSCRIBERCKEY00005  | subscriber-c-secret-key-demo |

Their emails (``ReadAccounts``): seller@, distribution@, subscriber-a@, subscriber-b@ and
subscriber-c@example.com.

OMIs (all ``available``):

| image_id     | image_name              | owner        | product codes | public |
|--------------|-------------------------|--------------|---------------|--------|
| ami-5e11e001 | debian-12-nginx-1.24    | 111111111111 | 0001          | no     |
| ami-5e11e002 | debian-12-nginx-1.26    | 111111111111 | 0001          | no     |
| ami-5e11e003 | ubuntu-24.04-nginx-1.26 | 111111111111 | 0001          | no     |
| ami-5e11e004 | debian-12-base          | 111111111111 | (none)        | no     |
| ami-5e11e005 | rocky-9-postgresql-16   | 111111111111 | 0002          | no     |
| ami-0f5ca1e1 | Debian-12-2025.06.01-0  | 999999999999 | 0001          | yes    |

The last one stands for the public OMIs OUTSCALE publishes (account alias ``Outscale``, no
credentials): like in production, a seller listing OMIs by product code ``0001`` also sees
public OMIs of other accounts and must filter on its own ``AccountIds``.
"""

from __future__ import annotations

from typing import Any

DEMO_ACCOUNTS: list[dict[str, Any]] = [
    {
        "role": "seller",
        "account_id": "111111111111",
        "access_key": "SELLERACCESSKEY0001",
        "secret_key": "seller-secret-key-demo",
        "email": "seller@example.com",
    },
    {
        "role": "distribution",
        "account_id": "222222222222",
        "access_key": "DISTRIBACCESSKEY0002",
        "secret_key": "distribution-secret-key-demo",
        "email": "distribution@example.com",
    },
    {
        "role": "subscriber",
        "account_id": "333333333333",
        "access_key": "SUBSCRIBERAKEY00003",
        "secret_key": "subscriber-a-secret-key-demo",
        "email": "subscriber-a@example.com",
    },
    {
        "role": "subscriber",
        "account_id": "444444444444",
        "access_key": "SUBSCRIBERBKEY00004",
        "secret_key": "subscriber-b-secret-key-demo",
        "email": "subscriber-b@example.com",
    },
    {
        "role": "subscriber",
        "account_id": "555555555555",
        "access_key": "SUBSCRIBERCKEY00005",
        "secret_key": "subscriber-c-secret-key-demo",
        "email": "subscriber-c@example.com",
    },
]

SELLER_ACCOUNT_ID = "111111111111"
PUBLIC_ACCOUNT_ID = "999999999999"

DEMO_IMAGES: list[dict[str, Any]] = [
    {
        "account_id": SELLER_ACCOUNT_ID,
        "image_id": "ami-5e11e001",
        "image_name": "debian-12-nginx-1.24",
        "description": "Debian 12 with nginx 1.24",
        "product_codes": ["0001"],
        "global_permission": False,
        "state": "available",
    },
    {
        "account_id": SELLER_ACCOUNT_ID,
        "image_id": "ami-5e11e002",
        "image_name": "debian-12-nginx-1.26",
        "description": "Debian 12 with nginx 1.26",
        "product_codes": ["0001"],
        "global_permission": False,
        "state": "available",
    },
    {
        "account_id": SELLER_ACCOUNT_ID,
        "image_id": "ami-5e11e003",
        "image_name": "ubuntu-24.04-nginx-1.26",
        "description": "Ubuntu 24.04 with nginx 1.26",
        "product_codes": ["0001"],
        "global_permission": False,
        "state": "available",
    },
    {
        "account_id": SELLER_ACCOUNT_ID,
        "image_id": "ami-5e11e004",
        "image_name": "debian-12-base",
        "description": "Debian 12, no product code",
        "product_codes": [],
        "global_permission": False,
        "state": "available",
    },
    {
        "account_id": SELLER_ACCOUNT_ID,
        "image_id": "ami-5e11e005",
        "image_name": "rocky-9-postgresql-16",
        "description": "Rocky Linux 9 with PostgreSQL 16, another product",
        "product_codes": ["0002"],
        "global_permission": False,
        "state": "available",
    },
    {
        "account_id": PUBLIC_ACCOUNT_ID,
        "account_alias": "Outscale",
        "image_id": "ami-0f5ca1e1",
        "image_name": "Debian-12-2025.06.01-0",
        "description": "Public OMI of another account",
        "product_codes": ["0001"],
        "global_permission": True,
        "state": "available",
    },
]
