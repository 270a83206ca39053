"""GraphQL text of the orders pulls: ``orders`` pages and the bulk query of a backfill.

Field reference: https://shopify.dev/docs/api/admin-graphql/latest/objects/Order and
https://shopify.dev/docs/api/admin-graphql/latest/objects/LineItem. Paged and bulk pulls
select the same fields, so an order reads the same whichever way it was fetched. No buyer
data is asked for beyond the shipping country and region and the customer's id (the buyer
key's input, removed with everything else of the buyer by ``pipelines/net/pii.py``).
"""

from __future__ import annotations

import json

from providers.shopify.queries import BulkShape, indent_fields

ORDERS_OPERATION = "Orders"
ORDERS_BULK = BulkShape("BulkOrders", "orders", "lineItems", "line item", "read_orders")
LINES_PER_ORDER = 25

_MONEY = "{ shopMoney { amount currencyCode } }"
ORDER_FIELDS = f"""\
id
orderNumber: name
createdAt
updatedAt
closedAt
cancelledAt
currencyCode
taxesIncluded
displayFinancialStatus
displayFulfillmentStatus
totalShippingPriceSet {_MONEY}
totalTaxSet {_MONEY}
totalDiscountsSet {_MONEY}
totalPriceSet {_MONEY}
totalRefundedSet {_MONEY}
shippingAddress {{ countryCodeV2 provinceCode }}
customer {{ id }}"""

LINE_FIELDS = f"""\
id
sku
quantity
currentQuantity
variant {{ id barcode product {{ id }} }}
originalUnitPriceSet {_MONEY}
discountAllocations {{ allocatedAmountSet {_MONEY} }}
taxLines {{ priceSet {_MONEY} }}"""

ORDERS_QUERY = f"""\
query {ORDERS_OPERATION}($first: Int!, $cursor: String, $query: String, $linesFirst: Int!) {{
  orders(first: $first, after: $cursor, query: $query, sortKey: UPDATED_AT) {{
    nodes {{
{indent_fields(ORDER_FIELDS, 3)}
      lineItems(first: $linesFirst) {{
        nodes {{
{indent_fields(LINE_FIELDS, 5)}
        }}
        pageInfo {{ hasNextPage }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""


def bulk_orders_query(search: str | None) -> str:
    """The document a bulk operation runs: every order (matching ``search``) and all its lines,
    each line item a JSONL line of its own pointing at its order with ``__parentId``.

    Bulk documents take no variables, so the filter is written in as a string literal
    (JSON string escapes are valid GraphQL ones).
    """
    arguments = f"(query: {json.dumps(search)})" if search else ""
    return f"""\
{{
  orders{arguments} {{
    edges {{
      node {{
{indent_fields(ORDER_FIELDS, 4)}
        lineItems {{
          edges {{
            node {{
{indent_fields(LINE_FIELDS, 7)}
            }}
          }}
        }}
      }}
    }}
  }}
}}
"""


def orders_query_cost(orders: int, lines: int) -> int:
    """Upper bound of the requested cost (objects 1, a connection 2 + ``first`` × a node):
    an order is 9 objects plus its line connection, a line 9 objects."""
    return 2 + orders * (9 + 2 + lines * 9)
