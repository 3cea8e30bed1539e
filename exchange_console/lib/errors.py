class ParameterError(ValueError):
    """A value refused for a named Exchange parameter (e.g. AddressSpaces, Bindings).

    The same message reaches the shell, the console form and the tests, so it always names the parameter.
    """

    def __init__(self, parameter, message):
        super().__init__(message)
        self.parameter = parameter
        self.message = message

    def __str__(self):
        return self.message
