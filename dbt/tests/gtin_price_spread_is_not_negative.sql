-- The spread is highest minus lowest: never negative, and present exactly when one currency.
select *
from {{ ref('gtin_price_comparison') }}
where price_spread < 0
    or lowest_price > highest_price
    or (price_spread is null) <> mixed_currencies
    or sources < 2
