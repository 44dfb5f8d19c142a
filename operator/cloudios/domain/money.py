"""Money as Decimal plus ISO 4217 currency; never floats."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

HOURS_PER_MONTH = Decimal(730)
CENT = Decimal("0.01")

DecimalStr = Annotated[Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str)]


class Money(BaseModel):
    """An amount in one currency. Arithmetic refuses to mix currencies."""

    model_config = ConfigDict(frozen=True)

    amount: DecimalStr = Field(description="Amount as a decimal string, e.g. '12.34'.")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")

    @classmethod
    def zero(cls, currency: str = "USD") -> Money:
        return cls(amount=Decimal(0), currency=currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def times(self, factor: Decimal | int) -> Money:
        return Money(amount=self.amount * Decimal(factor), currency=self.currency)

    def rounded(self) -> Money:
        """Rounded to cents (banker's rounding), for display and storage."""
        return Money(amount=self.amount.quantize(CENT, ROUND_HALF_EVEN), currency=self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __str__(self) -> str:
        return f"{self.rounded().amount} {self.currency}"
