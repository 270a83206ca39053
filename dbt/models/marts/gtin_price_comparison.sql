-- The same product on several marketplaces: current offers grouped by GTIN-14, for the GTINs
-- at least two sources (Shopify, Amazon, eBay, …) sell. Prices are compared only when every
-- offer of the GTIN is in one currency; with mixed currencies the row says which currencies
-- (currencies, mixed_currencies = true) and leaves the prices, the spread and the cheapest
-- source null: no exchange rate is applied. Offers without a price or a currency are left out.
with offers as (
    select source, source_id, gtin14, price_amount, currency
    from {{ ref('products_current') }}
    where gtin14 is not null and price_amount is not null and currency is not null
),

per_gtin as (
    select
        gtin14,
        count(distinct source) as sources,
        string_agg(distinct source, ', ' order by source) as source_list,
        count(*) as offers,
        string_agg(distinct currency, ', ' order by currency) as currencies,
        count(distinct currency) > 1 as mixed_currencies,
        min(price_amount) as lowest_price,
        max(price_amount) as highest_price
    from offers
    group by gtin14
    having count(distinct source) >= 2
),

cheapest as (
    select
        gtin14,
        source as cheapest_source,
        row_number() over (
            partition by gtin14 order by price_amount, source, source_id
        ) as rank_by_price
    from offers
)

select
    per_gtin.gtin14,
    per_gtin.sources,
    per_gtin.source_list,
    per_gtin.offers,
    per_gtin.currencies,
    per_gtin.mixed_currencies,
    case when not per_gtin.mixed_currencies then per_gtin.currencies end as currency,
    case when not per_gtin.mixed_currencies then per_gtin.lowest_price end as lowest_price,
    case when not per_gtin.mixed_currencies then per_gtin.highest_price end as highest_price,
    case
        when not per_gtin.mixed_currencies then per_gtin.highest_price - per_gtin.lowest_price
    end as price_spread,
    case when not per_gtin.mixed_currencies then cheapest.cheapest_source end as cheapest_source
from per_gtin
inner join cheapest on cheapest.gtin14 = per_gtin.gtin14 and cheapest.rank_by_price = 1
