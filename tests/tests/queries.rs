//! Selections, aggregates, group by, having, distinct and subqueries, on every backend.

mod support;

use covet::{ErrorKind, Filter, FromRow, Model, Order, count_rows};
use rust_decimal::Decimal;

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "customers")]
struct Customer {
    #[covet(primary_key, auto_increment)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "sales")]
struct Sale {
    #[covet(primary_key, auto_increment)]
    id: i64,
    customer: String,
    amount: i32,
    weight: f64,
    discount: Option<i32>,
    price: Decimal,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "tallies")]
struct Tally {
    #[covet(primary_key, auto_increment)]
    id: i64,
    value: i64,
}

#[derive(FromRow, Debug, PartialEq)]
struct Spending {
    customer: String,
    orders: i64,
    total: Option<i64>,
}

async fn seed(db: &covet::Database) -> covet::Result<()> {
    Customer::create_table(db).await?;
    Sale::create_table(db).await?;
    for name in ["ann", "bob", "cy"] {
        Customer {
            id: 0,
            name: name.into(),
        }
        .insert(db)
        .await?;
    }
    // Amounts near i32::MAX, so that their sum only fits in a 64-bit integer.
    let sales = [
        ("ann", 2_000_000_000, 1.5, Some(5), "1.10"),
        ("ann", 2_000_000_000, 2.5, None, "2.20"),
        ("bob", 10, 4.0, Some(1), "3.30"),
        ("ann", 7, 0.5, None, "4.40"),
    ];
    let rows: Vec<Sale> = sales
        .iter()
        .map(|&(customer, amount, weight, discount, price)| Sale {
            id: 0,
            customer: customer.into(),
            amount,
            weight,
            discount,
            price: price.parse().unwrap(),
        })
        .collect();
    Sale::insert_many(db, &rows).await?;
    Ok(())
}

backend_tests! {
    async fn chosen_columns_come_back_as_tuples(db) {
        seed(&db).await?;
        let rows = Sale::query()
            .filter(Sale::AMOUNT.lt(100))
            .order_by_asc(Sale::ID)
            .select((Sale::CUSTOMER, Sale::AMOUNT, Sale::DISCOUNT))
            .all(&db)
            .await?;
        assert_eq!(rows, [("bob".to_owned(), 10, Some(1)), ("ann".to_owned(), 7, None)]);
        let single: Vec<String> = Sale::query()
            .order_by_desc(Sale::ID)
            .select(Sale::CUSTOMER)
            .all(&db)
            .await?;
        assert_eq!(single, ["ann", "bob", "ann", "ann"]);
        let page: Vec<i32> = Sale::query()
            .select(Sale::AMOUNT)
            .order_by(Sale::ID, Order::Asc)
            .limit(2)
            .offset(1)
            .all(&db)
            .await?;
        assert_eq!(page, [2_000_000_000, 10]);
        Ok(())
    }

    async fn aggregates_have_the_same_types_everywhere(db) {
        seed(&db).await?;
        let (rows, total, average, lightest, heaviest) = Sale::query()
            .select((
                count_rows(),
                Sale::AMOUNT.sum(),
                Sale::AMOUNT.avg(),
                Sale::WEIGHT.min(),
                Sale::WEIGHT.max(),
            ))
            .one(&db)
            .await?;
        assert_eq!(rows, 4);
        assert_eq!(total, Some(4_000_000_017));
        assert_eq!(average, Some(4_000_000_017.0 / 4.0));
        assert_eq!((lightest, heaviest), (Some(0.5), Some(4.0)));

        let (discounts, distinct_customers, discount_sum, weight_sum) = Sale::query()
            .select((
                Sale::DISCOUNT.count(),
                Sale::CUSTOMER.count_distinct(),
                Sale::DISCOUNT.sum(),
                Sale::WEIGHT.sum(),
            ))
            .one(&db)
            .await?;
        assert_eq!((discounts, distinct_customers, discount_sum), (2, 2, Some(6)));
        assert_eq!(weight_sum, Some(8.5));

        // Over no rows: COUNT is 0 and the others are NULL.
        let empty = Sale::query()
            .filter(Sale::CUSTOMER.eq("nobody"))
            .select((count_rows(), Sale::AMOUNT.sum(), Sale::AMOUNT.max()))
            .one(&db)
            .await?;
        assert_eq!(empty, (0, None, None));
        Ok(())
    }

    async fn group_by_and_having_fill_a_struct(db) {
        seed(&db).await?;
        let spending: Vec<Spending> = Sale::query()
            .select_into((Sale::CUSTOMER, count_rows(), Sale::AMOUNT.sum()))
            .group_by(Sale::CUSTOMER)
            .order_by(Sale::AMOUNT.sum(), Order::Desc)
            .all(&db)
            .await?;
        assert_eq!(
            spending,
            [
                Spending { customer: "ann".into(), orders: 3, total: Some(4_000_000_007) },
                Spending { customer: "bob".into(), orders: 1, total: Some(10) },
            ]
        );
        let busy: Vec<String> = Sale::query()
            .select(Sale::CUSTOMER)
            .group_by(Sale::CUSTOMER)
            .having(count_rows().ge(2))
            .all(&db)
            .await?;
        assert_eq!(busy, ["ann"]);
        let none: Vec<String> = Sale::query()
            .select(Sale::CUSTOMER)
            .group_by(Sale::CUSTOMER)
            .having(count_rows().gt(3).or(Sale::AMOUNT.max().lt(5)))
            .all(&db)
            .await?;
        assert!(none.is_empty());
        Ok(())
    }

    async fn distinct_returns_each_row_once(db) {
        seed(&db).await?;
        let mut customers: Vec<String> =
            Sale::query().select(Sale::CUSTOMER).distinct().all(&db).await?;
        customers.sort();
        assert_eq!(customers, ["ann", "bob"]);
        Ok(())
    }

    async fn subqueries_filter_by_another_table(db) {
        seed(&db).await?;
        let big_spenders = Customer::query()
            .filter(Customer::NAME.in_query(
                Sale::query().filter(Sale::AMOUNT.gt(100)).select(Sale::CUSTOMER),
            ))
            .all(&db)
            .await?;
        assert_eq!(names(&big_spenders), ["ann"]);
        let others = Customer::query()
            .filter(Customer::NAME.not_in_query(
                Sale::query().filter(Sale::AMOUNT.gt(100)).select(Sale::CUSTOMER),
            ))
            .order_by_asc(Customer::NAME)
            .all(&db)
            .await?;
        assert_eq!(names(&others), ["bob", "cy"]);

        // Correlated EXISTS: customers with at least one order, and those with none.
        let ordering = Customer::query()
            .filter(Filter::exists(
                Sale::query().filter(Sale::CUSTOMER.eq_column(Customer::NAME)),
            ))
            .order_by_asc(Customer::NAME)
            .all(&db)
            .await?;
        assert_eq!(names(&ordering), ["ann", "bob"]);
        let idle = Customer::query()
            .filter(Filter::not_exists(
                Sale::query().filter(Sale::CUSTOMER.eq_column(Customer::NAME)),
            ))
            .all(&db)
            .await?;
        assert_eq!(names(&idle), ["cy"]);

        // IN over the same table needs no reference to the outer row and works.
        let small = Sale::query()
            .filter(Sale::ID.in_query(
                Sale::query().filter(Sale::AMOUNT.lt(100)).select(Sale::ID),
            ))
            .count(&db)
            .await?;
        assert_eq!(small, 2);
        // EXISTS over the same table could not refer to the outer row, so it is rejected.
        let error = Sale::query()
            .filter(Filter::exists(
                Sale::query().filter(Sale::DISCOUNT.eq_column(Sale::AMOUNT)),
            ))
            .all(&db)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("table aliases"), "{error}");
        Ok(())
    }

    async fn wrong_width_struct_is_rejected(db) {
        seed(&db).await?;
        let error = Sale::query()
            .select_into::<Spending, _>((Sale::CUSTOMER, count_rows()))
            .all(&db)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("reads 3 columns but the query selects 2"), "{error}");
        Ok(())
    }

    async fn sum_outside_i64_is_an_error(db) {
        Tally::create_table(&db).await?;
        let rows = [i64::MAX, 1].map(|value| Tally { id: 0, value });
        Tally::insert_many(&db, &rows).await?;
        // MySQL would clamp a CAST to SIGNED to i64::MAX; every backend must fail instead.
        let result = Tally::query().select(Tally::VALUE.sum()).one(&db).await;
        assert!(result.is_err(), "{result:?}");
        let within = Tally::query()
            .filter(Tally::VALUE.eq(i64::MAX))
            .select(Tally::VALUE.sum())
            .one(&db)
            .await?;
        assert_eq!(within, Some(i64::MAX));
        Ok(())
    }

    async fn decimal_sums_need_numeric_storage(db) {
        seed(&db).await?;
        let result = Sale::query().select(Sale::PRICE.sum()).one(&db).await;
        if db.backend().capabilities().decimal_comparison {
            assert_eq!(result?, Some("11.00".parse::<Decimal>().unwrap()));
        } else {
            let error = result.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Unsupported);
            assert!(error.to_string().contains("decimal"), "{error}");
        }
        Ok(())
    }
}

fn names(customers: &[Customer]) -> Vec<&str> {
    customers.iter().map(|c| c.name.as_str()).collect()
}
