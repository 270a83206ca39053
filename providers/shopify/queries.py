"""GraphQL text for the Admin API, and the requested cost of each document.

Field reference: https://shopify.dev/docs/api/admin-graphql/latest/objects/Product and
https://shopify.dev/docs/api/admin-graphql/latest/objects/ProductVariant. Paged and bulk
pulls select the same fields, so a product reads the same whichever way it was fetched.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass

SHOP_OPERATION = "ShopInfo"
PROBE_OPERATION = "ShopProbe"
PRODUCTS_OPERATION = "Products"
COUNT_OPERATION = "ProductsCount"
VARIANTS_OPERATION = "ProductVariants"
BULK_POLL_OPERATION = "BulkOperation"
BULK_LIST_OPERATION = "RunningBulkOperations"

# `description` is the plain-text rendering of `descriptionHtml`.
PRODUCT_FIELDS = """\
id
title
handle
vendor
productType
status
tags
createdAt
updatedAt
onlineStoreUrl
description
featuredMedia {
  preview {
    image {
      url
    }
  }
}"""

VARIANT_FIELDS = """\
id
title
sku
barcode
price
compareAtPrice
inventoryQuantity
availableForSale
createdAt
updatedAt"""


def indent_fields(fields: str, depth: int) -> str:
    """``fields`` indented ``depth`` levels, to sit inside a selection."""
    return textwrap.indent(fields, "  " * depth)


@dataclass(frozen=True)
class BulkShape:
    """What one kind of bulk query reads: the mutation's operation name, its root objects,
    the connection its child lines (``__parentId``) fill, and the scope it needs."""

    operation: str
    roots: str
    children: str
    child: str  # one child line, in messages
    scope: str


PRODUCTS_BULK = BulkShape("BulkProducts", "products", "variants", "variant", "read_products")


SHOP_QUERY = """\
query ShopInfo {
  shop {
    currencyCode
    myshopifyDomain
  }
}
"""

# doctor's one call: the shop, and the access scopes the app was granted on it.
PROBE_QUERY = """\
query ShopProbe {
  shop {
    currencyCode
    myshopifyDomain
  }
  currentAppInstallation {
    accessScopes {
      handle
    }
  }
}
"""

# `sortKey: UPDATED_AT` (oldest first) keeps incremental pulls (query: "updated_at:>='...'")
# in a stable order, so the newest `updatedAt` seen so far is a safe watermark.
PRODUCTS_QUERY = f"""\
query Products($first: Int!, $cursor: String, $query: String, $variantsFirst: Int!) {{
  products(first: $first, after: $cursor, sortKey: UPDATED_AT, query: $query) {{
    nodes {{
{indent_fields(PRODUCT_FIELDS, 3)}
      variantsCount {{
        count
      }}
      variants(first: $variantsFirst) {{
        nodes {{
{indent_fields(VARIANT_FIELDS, 5)}
        }}
        pageInfo {{
          hasNextPage
          endCursor
        }}
      }}
    }}
    pageInfo {{
      hasNextPage
      endCursor
    }}
  }}
}}
"""

# The rest of one product's variants, after the products page's first `variantsFirst`.
VARIANTS_QUERY = f"""\
query ProductVariants($id: ID!, $first: Int!, $cursor: String) {{
  product(id: $id) {{
    variants(first: $first, after: $cursor) {{
      nodes {{
{indent_fields(VARIANT_FIELDS, 4)}
      }}
      pageInfo {{
        hasNextPage
        endCursor
      }}
    }}
  }}
}}
"""

# `limit: null` asks for an exact count; the default stops counting at 10,000.
COUNT_QUERY = """\
query ProductsCount($query: String) {
  productsCount(query: $query, limit: null) {
    count
    precision
  }
}
"""


def bulk_run_mutation(operation: str) -> str:
    """``bulkOperationRunQuery`` under the operation name of what it reads (``BulkProducts``)."""
    return f"""\
mutation {operation}($query: String!) {{
  bulkOperationRunQuery(query: $query) {{
    bulkOperation {{
      id
      status
    }}
    userErrors {{
      field
      message
      code
    }}
  }}
}}
"""


# `bulkOperation(id:)` and `bulkOperations` exist from API version 2026-01 on.
BULK_POLL_QUERY = """\
query BulkOperation($id: ID!) {
  bulkOperation(id: $id) {
    id
    status
    errorCode
    objectCount
    rootObjectCount
    url
    partialDataUrl
  }
}
"""

BULK_LIST_QUERY = """\
query RunningBulkOperations {
  bulkOperations(first: 10, query: "operation_type:query", sortKey: CREATED_AT, reverse: true) {
    nodes {
      id
      status
      query
    }
  }
}
"""


def bulk_products_query(search: str | None) -> str:
    """The document a bulk operation runs: every product (matching ``search``) and all variants.

    Bulk documents take no variables, so the filter is written in as a string literal
    (JSON string escapes are valid GraphQL ones).
    """
    arguments = f"(query: {json.dumps(search)})" if search else ""
    return f"""\
{{
  products{arguments} {{
    edges {{
      node {{
{indent_fields(PRODUCT_FIELDS, 4)}
        variants {{
          edges {{
            node {{
{indent_fields(VARIANT_FIELDS, 7)}
            }}
          }}
        }}
      }}
    }}
  }}
}}
"""


# Requested costs that pace the calls other than a products page: one object (shop, count,
# one bulk operation), a mutation (10 points) and a connection of 10 bulk operations.
SIMPLE_QUERY_COST = 1
BULK_RUN_COST = 10
BULK_LIST_COST = 2 + 10

# Objects the products query selects inside each product besides its variants:
# featuredMedia, its preview, the preview's image and variantsCount.
_PRODUCT_OBJECTS = 4


def products_query_cost(products: int, variants: int) -> int:
    """Upper bound of the requested cost Shopify computes for ``PRODUCTS_QUERY``.

    Shopify's rules (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits):
    scalars cost 0, objects 1, a connection 2 plus ``first`` times the cost of one node.
    With 100 variants a product costs 1 + 4 + (2 + 100) = 107 points, so at most 9
    products fit under the 1,000-point single-query limit.
    """
    product = 1 + _PRODUCT_OBJECTS + 2 + variants
    return 2 + products * product


def variants_query_cost(variants: int) -> int:
    """Requested cost of ``VARIANTS_QUERY``: the product, and a connection of ``variants``."""
    return 1 + 2 + variants


def max_products_per_page(variants: int, max_cost: int) -> int:
    """The most products per page whose query stays within ``max_cost`` (at least 1)."""
    per_product = products_query_cost(1, variants) - 2
    return max(1, (max_cost - 2) // per_product)
