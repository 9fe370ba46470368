"""One row of a plain model by equality (and `IN`) conditions, with its SQL written once.

Building and compiling the ORM query for a single-object read was ~0.5 ms of a ~2 ms trivial
authenticated GET (issue 18), more than the query itself. The SQL here is made once per model and
condition shape (an `IN` list's per length: as many as a practice has clinics) and only the values
change; the row becomes an instance through the model's own `from_db` and its fields' database
converters, as the ORM's would. Only the model's own columns: no joins, no annotations.
"""

from django.db import DEFAULT_DB_ALIAS, connections

IN = "in"  # a condition whose value is a list: `column IN (%s, ...)`

_statements: dict[tuple, tuple[str, list]] = {}


def _statement(model, conditions: tuple[tuple[str, str | int], ...], connection) -> tuple[str, list]:
    """`conditions`: (field name, "=" or the length of an IN list)."""
    key = (model, conditions)
    made = _statements.get(key)
    if made is None:
        quote = connection.ops.quote_name
        table = model._meta.db_table
        fields = model._meta.concrete_fields
        columns = ", ".join(f"{quote(table)}.{quote(f.column)}" for f in fields)
        where = " AND ".join(
            f"{quote(table)}.{quote(model._meta.get_field(name).column)} "
            + ("= %s" if how == "=" else f"IN ({', '.join(['%s'] * how)})")
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
    """The instance matching every `(field name, "=" or IN, value)`, or None. Meant for unique keys:
    a second match raises, as `QuerySet.get` would."""
    shape, params = [], []
    for name, how, value in conditions:
        if how == IN:
            value = list(value)
            if not value:
                return None  # nothing is IN an empty list (the ORM does not ask either)
            shape.append((name, len(value)))
            params.extend(value)
        else:
            shape.append((name, "="))
            params.append(value)
    connection = connections[using]
    sql, converters = _statement(model, tuple(shape), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
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
