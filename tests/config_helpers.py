"""Asserting what the write path (new_object / set_object, which every face goes through) refuses."""
import pytest

from exchange_console.services import ConfigurationError, new_object, set_object


def refused(schema, values, parameter, message, obj=None):
    """Creating the object from `values` (or, given `obj`, changing it) is refused with `message` for `parameter`,
    and the refusal adds no object of that kind."""
    before = schema.model.objects.count()
    with pytest.raises(ConfigurationError) as caught:
        set_object(schema, obj, values) if obj else new_object(schema, values)
    assert parameter in caught.value.by_parameter(), caught.value.errors
    assert message in str(caught.value)
    assert schema.model.objects.count() == before
