"""GraphQL text for the Admin API, and the requested cost of the products query.

Field reference: https://shopify.dev/docs/api/admin-graphql/latest/objects/Product and
https://shopify.dev/docs/api/admin-graphql/latest/objects/ProductVariant.
"""

from __future__ import annotations

SHOP_OPERATION = "ShopInfo"
PRODUCTS_OPERATION = "Products"

SHOP_QUERY = """\
query ShopInfo {
  shop {
    currencyCode
    myshopifyDomain
  }
}
"""

# `description` is the plain-text rendering of `descriptionHtml`.
# `sortKey: UPDATED_AT` keeps incremental pulls (query: "updated_at:>='...'") in a stable order.
PRODUCTS_QUERY = """\
query Products($first: Int!, $cursor: String, $query: String, $variantsFirst: Int!) {
  products(first: $first, after: $cursor, sortKey: UPDATED_AT, query: $query) {
    nodes {
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
      }
      variants(first: $variantsFirst) {
        nodes {
          id
          title
          sku
          barcode
          price
          compareAtPrice
          inventoryQuantity
          availableForSale
          createdAt
          updatedAt
        }
        pageInfo {
          hasNextPage
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
"""

# Objects the query selects inside each product besides its variants:
# featuredMedia, its preview and the preview's image.
_PRODUCT_OBJECTS = 3


def products_query_cost(products: int, variants: int) -> int:
    """Upper bound of the requested cost Shopify computes for ``PRODUCTS_QUERY``.

    Shopify's rules (https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits):
    scalars cost 0, objects 1, a connection 2 plus ``first`` times the cost of one node.
    With 100 variants a product costs 1 + 3 + (2 + 100) = 106 points, so at most 9
    products fit under the 1,000-point single-query limit.
    """
    product = 1 + _PRODUCT_OBJECTS + 2 + variants
    return 2 + products * product


def max_products_per_page(variants: int, max_cost: int) -> int:
    """The most products per page whose query stays within ``max_cost`` (at least 1)."""
    per_product = products_query_cost(1, variants) - 2
    return max(1, (max_cost - 2) // per_product)
