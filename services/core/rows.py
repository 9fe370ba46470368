"""One row of a plain model by equality (and `= ANY(array)`) conditions, with its SQL written once.

Building and compiling the ORM query for a single-object read was ~0.5 ms of a ~2 ms trivial
authenticated GET (issue 18), more than the query itself. The SQL here is made once per model and
condition shape (an array parameter keeps the shape the same for any number of ids) and only the
values change; the row becomes an instance through the model's own `from_db` and its fields'
database converters, as the ORM's would. Only the model's own columns: no joins, no annotations.
"""

from django.db import DEFAULT_DB_ALIAS, connections

ANY = "any"  # a condition whose value is a list: `column = ANY(%s)`

_statements: dict[tuple, tuple[str, list]] = {}


def _statement(model, conditions: tuple[tuple[str, str], ...], connection) -> tuple[str, list]:
    key = (model, conditions)
    made = _statements.get(key)
    if made is None:
        quote = connection.ops.quote_name
        table = model._meta.db_table
        fields = model._meta.concrete_fields
        columns = ", ".join(f"{quote(table)}.{quote(f.column)}" for f in fields)
        where = " AND ".join(
            f"{quote(table)}.{quote(model._meta.get_field(name).column)} "
            + ("= ANY(%s)" if how == ANY else "= %s")
            for name, how in conditions
        )
        converters = []
        for index, field in enumerate(fields):
            found = field.get_db_converters(connection)
            if found:
                converters.append((index, found, field.get_col(table)))
        made = (f"SELECT {columns} FROM {quote(table)} WHERE {where} LIMIT 2", converters)  # noqa: S608
        _statements[key] = made
    return made


def one_row(model, conditions: list[tuple[str, str, object]], using: str = DEFAULT_DB_ALIAS):
    """The instance matching every `(field name, "=" or ANY, value)`, or None. Meant for unique keys:
    a second match raises, as `QuerySet.get` would."""
    connection = connections[using]
    sql, converters = _statement(model, tuple((name, how) for name, how, _ in conditions), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(value) if how == ANY else value for _, how, value in conditions])
        rows = cursor.fetchall()
    if not rows:
        return None
    if len(rows) > 1:
        raise model.MultipleObjectsReturned(f"More than one {model.__name__} matched.")
    values = list(rows[0])
    for index, found, column in converters:
        for convert in found:
            values[index] = convert(values[index], column, connection)
    return model.from_db(using, None, values)
